"""Builders for Stripe API objects, shaped like the API version stripe-python 15 pins (2026-08-26.dahlia).

Each builder returns a plain dict with every top-level field that version documents (``None`` where Stripe
would send null), so dj-stripe's sync code and our own code read what they would read from Stripe.
References to other objects are ids; ``FakeStripe`` inlines and expands them when it answers.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

from tests.fakes.stripe_wire import JsonDict, new_id

API_VERSION = "2026-08-26.dahlia"


def add_interval(timestamp: int, interval: str, count: int = 1) -> int:
    """``timestamp`` moved on by ``count`` intervals, keeping the day of month as Stripe's anchor does."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    if interval in ("day", "week"):
        return timestamp + count * (86400 if interval == "day" else 7 * 86400)
    months = count * (12 if interval == "year" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def empty_list(url: str) -> JsonDict:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def product(now: int, params: JsonDict, product_id: str | None = None) -> JsonDict:
    return {
        "id": product_id or new_id("prod", 14),
        "object": "product",
        "active": True,
        "created": now,
        "default_price": None,
        "description": params.get("description") or None,
        "images": params.get("images") or [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": params["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": params.get("statement_descriptor"),
        "tax_code": params.get("tax_code"),
        "type": "service",
        "unit_label": params.get("unit_label"),
        "updated": now,
        "url": params.get("url"),
    }


def price(
    now: int, params: JsonDict, product_id: str, unit_amount: int, recurring: JsonDict | None
) -> JsonDict:
    return {
        "id": new_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": now,
        "currency": str(params["currency"]).lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": params.get("lookup_key") or None,
        "metadata": {},
        "nickname": params.get("nickname") or None,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": params.get("tax_behavior", "unspecified"),
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def recurring(interval: str, interval_count: int) -> JsonDict:
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def plan_from_price(rendered_price: JsonDict) -> JsonDict:
    """The legacy ``plan`` Stripe still embeds beside ``price`` on subscription items."""
    rec = rendered_price["recurring"] or {}
    return {
        "id": rendered_price["id"],
        "object": "plan",
        "active": rendered_price["active"],
        "amount": rendered_price["unit_amount"],
        "amount_decimal": rendered_price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": rendered_price["created"],
        "currency": rendered_price["currency"],
        "interval": rec.get("interval"),
        "interval_count": rec.get("interval_count"),
        "livemode": False,
        "metadata": rendered_price["metadata"],
        "meter": None,
        "nickname": rendered_price["nickname"],
        "product": rendered_price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def customer(now: int, params: JsonDict) -> JsonDict:
    return {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": now,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description") or None,
        "discount": None,
        "email": params.get("email") or None,
        "individual_name": None,
        "invoice_prefix": new_id("X", 8)[2:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": params.get("name") or None,
        "next_invoice_sequence": 1,
        "phone": params.get("phone") or None,
        "preferred_locales": params.get("preferred_locales") or [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_method(now: int, customer_id: str | None, *, declines: bool) -> JsonDict:
    """A card PaymentMethod; ``declines``: a test card whose charges fail (``pm_card_chargeDeclined``)."""
    last4 = "0341" if declines else "4242"
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None, "tax_id": None},
        "card": {
            "brand": "visa",
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "display_brand": "visa",
            "exp_month": 12,
            "exp_year": datetime.fromtimestamp(now, UTC).year + 3,
            "fingerprint": new_id("fp", 16)[3:],
            "funding": "credit",
            "generated_from": None,
            "last4": last4,
            "networks": {"available": ["visa"], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": now,
        "customer": customer_id,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def checkout_session(now: int, base_url: str, params: JsonDict, line_items: list[JsonDict]) -> JsonDict:
    session_id = new_id("cs_test", 58)
    amount = sum(line["amount_total"] for line in line_items)
    currency = line_items[0]["currency"] if line_items else None
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": params.get("allow_promotion_codes") == "true" or None,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": params.get("billing_address_collection"),
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": params.get("customer"),
        "customer_account": None,
        "customer_creation": None if params.get("customer") else "always",
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "discounts": [],
        "expires_at": now + 24 * 3600,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": {},
        "mode": params.get("mode"),
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": {
            "allow_redisplay_filters": ["always"],
            "payment_method_remove": None,
            "payment_method_save": None,
        },
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{base_url}/checkout/{session_id}",
        "wallet_options": None,
    }


def checkout_line_item(rendered_price: JsonDict, quantity: int) -> JsonDict:
    amount = rendered_price["unit_amount"] * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": rendered_price["currency"],
        "description": rendered_price.get("nickname") or rendered_price["product"],
        "price": rendered_price["id"],
        "quantity": quantity,
    }


def portal_session(now: int, base_url: str, customer_id: str, return_url: str | None) -> JsonDict:
    session_id = new_id("bps")
    return {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": "bpc_fakedefaultconfiguration",
        "created": now,
        "customer": customer_id,
        "customer_account": None,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{base_url}/portal/{session_id}",
    }


def event(
    now: int, type_: str, obj: JsonDict, previous: JsonDict | None, request: JsonDict | None
) -> JsonDict:
    data: JsonDict = {"object": obj}
    if previous:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": request or {"id": None, "idempotency_key": None},
        "type": type_,
    }


def account(now: int) -> JsonDict:
    return {
        "id": "acct_1FakePrismPlatform",
        "object": "account",
        "business_profile": {
            "mcc": None,
            "name": "Prism (fake Stripe)",
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": now,
        "default_currency": "usd",
        "details_submitted": True,
        "email": "billing@prism.invalid",
        "external_accounts": empty_list("/v1/accounts/acct_1FakePrismPlatform/external_accounts"),
        "metadata": {},
        "payouts_enabled": True,
        "settings": {
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "dashboard": {"display_name": "Prism", "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": "PRISM"},
        },
        "type": "standard",
    }


def webhook_endpoint(now: int, params: JsonDict, events: list[Any]) -> JsonDict:
    return {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": params.get("api_version"),
        "application": None,
        "created": now,
        "description": params.get("description") or None,
        "enabled_events": events,
        "livemode": False,
        "metadata": {},
        "secret": f"whsec_{new_id('x', 32)[2:]}",
        "status": "enabled",
        "url": params["url"],
    }
