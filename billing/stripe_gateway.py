"""The one seam between Prism and Stripe's API: stripe-python with our key, typed answers, our errors.

stripe.api_base comes from settings.STRIPE_API_HOST (set from STRIPE_API_BASE), which dj-stripe applies
at import; tests point it at the local fake. Errors never carry the key: stripe-python's messages do not,
and we log only the error's class and Stripe's request id.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from djstripe.settings import djstripe_settings

from billing.catalog import USER_METADATA_KEY, Interval, lookup_key
from billing.configuration import NOT_AVAILABLE, billing_configured
from billing.money import format_money
from billing.plans import PlanName

logger = logging.getLogger(__name__)


class StripeUnavailable(Exception):
    """Stripe refused or could not be reached; the message is safe to show and to log."""


def _key() -> str:
    return djstripe_settings.STRIPE_SECRET_KEY


class BillingNotConfigured(StripeUnavailable):
    """No Stripe key is set on this server: nothing was sent anywhere."""


def _call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    if not billing_configured():
        raise BillingNotConfigured(NOT_AVAILABLE)
    try:
        return function(*args, api_key=_key(), **kwargs)
    except stripe.StripeError as error:
        logger.warning("Stripe %s failed: %s (request %s)", what, type(error).__name__, error.request_id)
        raise StripeUnavailable(f"Stripe could not {what} right now. Please try again.") from error


stripe.default_http_client = stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT)
stripe.max_network_retries = 2


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    created: int
    amount_cents: int
    currency: str
    status: str
    url: str

    @property
    def amount(self) -> str:
        return format_money(self.amount_cents, self.currency)

    @property
    def created_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.created, tz=dt.UTC)


def create_customer(email: str, user_id: int) -> str:
    customer = _call(
        "create your customer record",
        stripe.Customer.create,
        email=email,
        metadata={USER_METADATA_KEY: str(user_id)},
        idempotency_key=f"prism-customer-{user_id}",
    )
    return str(customer.id)


def price_id_for(plan: PlanName, interval: Interval) -> str | None:
    prices = _call(
        "find that price", stripe.Price.list, lookup_keys=[lookup_key(plan, interval)], active=True, limit=1
    )
    return str(prices.data[0].id) if prices.data else None


def create_checkout_session(
    *, customer_id: str, price_id: str, user_id: int, success_url: str, cancel_url: str
) -> str:
    """A Checkout Session for a subscription to ``price_id``; returns the URL to send the user to."""
    session = _call(
        "start Checkout",
        stripe.checkout.Session.create,
        mode="subscription",
        customer=customer_id,
        line_items=[{"price": price_id, "quantity": 1}],
        client_reference_id=str(user_id),
        subscription_data={"metadata": {USER_METADATA_KEY: str(user_id)}},
        metadata={USER_METADATA_KEY: str(user_id)},
        success_url=success_url,
        cancel_url=cancel_url,
    )
    return str(session.url)


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    session = _call(
        "open the billing portal",
        stripe.billing_portal.Session.create,
        customer=customer_id,
        return_url=return_url,
    )
    return str(session.url)


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    """The subscription as Stripe holds it now (the latest state wins over any event's snapshot)."""
    return _call("load the subscription", stripe.Subscription.retrieve, subscription_id).to_dict()


def list_subscriptions(customer_id: str) -> list[dict[str, Any]]:
    """Every subscription of the customer, whatever its status (newest first, as Stripe lists them)."""
    found = _call(
        "list the subscriptions", stripe.Subscription.list, customer=customer_id, status="all", limit=100
    )
    return [sub.to_dict() for sub in found.data]


@dataclass(frozen=True)
class ChargeLine:
    description: str
    amount_cents: int
    currency: str

    @property
    def amount(self) -> str:
        return format_money(self.amount_cents, self.currency)


@dataclass(frozen=True)
class ChangePreview:
    """What changing the price would bill now (Stripe's prorations), for the customer to confirm."""

    amount_due_cents: int
    total_cents: int
    currency: str
    lines: tuple[ChargeLine, ...]
    proration_date: int

    @property
    def amount_due(self) -> str:
        return format_money(self.amount_due_cents, self.currency)


def _price_change(subscription: dict[str, Any], price_id: str) -> list[dict[str, str]]:
    item = subscription["items"]["data"][0]
    return [{"id": str(item["id"]), "price": price_id}]


def preview_price_change(subscription: dict[str, Any], price_id: str, proration_date: int) -> ChangePreview:
    """Stripe's invoice preview for moving ``subscription`` to ``price_id`` at ``proration_date``."""
    preview = _call(
        "preview the change",
        stripe.Invoice.create_preview,
        customer=str(subscription["customer"]),
        subscription=str(subscription["id"]),
        subscription_details={
            "items": _price_change(subscription, price_id),
            "proration_behavior": "always_invoice",
            "proration_date": proration_date,
        },
    )
    currency = str(preview.get("currency") or "usd")
    lines = tuple(
        ChargeLine(str(line.get("description") or ""), int(line.get("amount") or 0), currency)
        for line in preview["lines"]["data"]
    )
    return ChangePreview(
        amount_due_cents=int(preview.get("amount_due") or 0),
        total_cents=int(preview.get("total") or 0),
        currency=currency,
        lines=lines,
        proration_date=proration_date,
    )


def change_price(subscription: dict[str, Any], price_id: str, proration_date: int) -> dict[str, Any]:
    """Move the subscription to ``price_id``, invoicing the prorations previewed at ``proration_date``."""
    return _call(
        "change the plan",
        stripe.Subscription.modify,
        str(subscription["id"]),
        items=_price_change(subscription, price_id),
        proration_behavior="always_invoice",
        proration_date=proration_date,
        idempotency_key=f"prism-change-{subscription['id']}-{price_id}-{proration_date}",
    ).to_dict()


def set_cancel_at_period_end(subscription_id: str, cancel: bool) -> dict[str, Any]:
    return _call(
        "cancel the subscription" if cancel else "resume the subscription",
        stripe.Subscription.modify,
        subscription_id,
        cancel_at_period_end=cancel,
    ).to_dict()


@dataclass(frozen=True)
class PaymentMethod:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def default_payment_method(customer_id: str) -> PaymentMethod | None:
    """The card Stripe charges the customer's invoices to, if there is one."""
    customer = _call(
        "load your payment method",
        stripe.Customer.retrieve,
        customer_id,
        expand=["invoice_settings.default_payment_method"],
    )
    method = (customer.get("invoice_settings") or {}).get("default_payment_method")
    card = method.get("card") if method and not isinstance(method, str) else None
    if not card:
        return None
    return PaymentMethod(
        str(card.get("brand") or "card"),
        str(card.get("last4") or ""),
        int(card.get("exp_month") or 0),
        int(card.get("exp_year") or 0),
    )


def list_invoices(customer_id: str, limit: int = 12) -> list[InvoiceLine]:
    invoices = _call("list your invoices", stripe.Invoice.list, customer=customer_id, limit=limit)
    return [
        InvoiceLine(
            number=str(inv.get("number") or inv.id),
            created=int(inv.created),
            amount_cents=int(
                inv.get("total") if inv.get("total") is not None else inv.get("amount_due") or 0
            ),
            currency=str(inv.get("currency") or "usd"),
            status=str(inv.get("status") or ""),
            url=str(inv.get("hosted_invoice_url") or ""),
        )
        for inv in invoices.data
    ]
