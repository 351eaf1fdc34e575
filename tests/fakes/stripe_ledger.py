"""The fake Stripe's memory: stored objects, how they render, the events recorded, customers and cards.

``StripeLedger`` knows nothing of HTTP; ``StripeBilling`` (stripe_billing.py) adds subscriptions and
invoices on top and ``FakeStripe`` (stripe_api.py) serves both. Every mutation records an Event whose
``data.object`` is the object as it rendered at that moment, as Stripe's events are.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from typing import Any

from tests.fakes import stripe_documents as documents
from tests.fakes import stripe_objects as build
from tests.fakes.stripe_wire import JsonDict, StripeError, merge_metadata, missing

# Stripe's test payment methods, usable wherever a payment method id is accepted.
TEST_CARDS = {"pm_card_visa": False, "pm_card_mastercard": False, "pm_card_chargeDeclined": True}

NAMES = {
    "product": "product",
    "price": "price",
    "customer": "customer",
    "subscription": "subscription",
    "subscription_item": "subscription item",
    "invoice": "invoice",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "payment_method": "PaymentMethod",
    "balance_transaction": "balance transaction",
    "checkout.session": "checkout.session",
    "event": "event",
    "webhook_endpoint": "webhook endpoint",
    "billing_portal.session": "billing portal session",
}


class StripeLedger:
    def __init__(self, *, legacy_fields: bool = True) -> None:
        """``legacy_fields`` also renders the pre-2025 fields dj-stripe 2.11 still reads (see ``render``)."""
        self.lock = threading.RLock()
        self.legacy_fields = legacy_fields
        self.forget()

    def forget(self) -> None:
        """Drop every object, event and control; the clock goes back to the real time."""
        self.objects: dict[str, JsonDict] = {}
        self.events: list[JsonDict] = []
        self.delivered: dict[str, set[str]] = {}  # url -> ids of events delivered there
        self.clock_offset = 0
        self.declining_cards: set[str] = set()
        self.fail_next: set[str] = set()
        self.request_context: JsonDict | None = None
        self._sequence = itertools.count()
        self._order: dict[str, int] = {}
        self.intent_of_invoice: dict[str, str] = {}
        self.account = build.account(self.now())

    # -- storage ---------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def put(self, obj: JsonDict) -> JsonDict:
        self.objects[obj["id"]] = obj
        self._order.setdefault(obj["id"], next(self._sequence))
        return obj

    def get(self, kind: str, object_id: str | None, param: str = "id") -> JsonDict:
        obj = self.objects.get(object_id or "")
        if obj is None or obj["object"] != kind:
            raise missing(NAMES.get(kind, kind), object_id or "", param)
        return obj

    def all_of(self, kind: str) -> list[JsonDict]:
        """Every stored object of ``kind``, newest first, as Stripe lists them."""
        found = [obj for obj in self.objects.values() if obj["object"] == kind]
        return sorted(found, key=lambda obj: (obj.get("created", 0), self._order[obj["id"]]), reverse=True)

    def render(self, obj: JsonDict) -> JsonDict:
        """The object as the API answers it: a copy with always-embedded objects inlined.

        With ``legacy_fields`` it also carries fields this API version dropped but dj-stripe 2.11 reads:
        ``current_period_start/end`` on the subscription (now only on its items); ``subscription``,
        ``paid``, ``payment_intent``, ``charge`` on the invoice (now under ``parent`` and ``payments``);
        ``subscription_item``, ``price``, ``proration``, ``type`` on invoice lines (now under ``parent`` and
        ``pricing``).
        Real Stripe at this version does NOT send them: code of ours must not depend on them.
        """
        out = copy.deepcopy({key: value for key, value in obj.items() if not key.startswith("_")})
        if out["object"] == "subscription":
            for item in out["items"]["data"]:
                item["price"] = self.render(self.objects[item["price"]])
                item["plan"] = build.plan_from_price(item["price"])
            if self.legacy_fields and out["items"]["data"]:
                first = out["items"]["data"][0]
                out["current_period_start"] = first["current_period_start"]
                out["current_period_end"] = first["current_period_end"]
        elif out["object"] == "invoice" and self.legacy_fields:
            intent = self.objects.get(self.intent_of_invoice.get(out["id"], ""))
            out["subscription"] = (out["parent"] or {}).get("subscription_details", {}).get("subscription")
            out["paid"] = out["status"] == "paid"
            out["payment_intent"] = intent["id"] if intent else None
            out["charge"] = intent["latest_charge"] if intent else None
            for line in out["lines"]["data"]:
                details = (line["parent"] or {}).get("subscription_item_details") or {}
                line["subscription_item"] = details.get("subscription_item")
                line["proration"] = details.get("proration", False)
                line["price"] = self.render(self.objects[line["pricing"]["price_details"]["price"]])
                line["type"] = "subscription"
        return out

    def include(self, obj: JsonDict, field: str) -> Any:
        """Fields Stripe sends only when asked for with ``expand[]``; KeyError for any other field."""
        kind = obj.get("object")
        if kind == "checkout.session" and field == "line_items":
            lines = [self._render_checkout_line(line) for line in self.objects[obj["id"]]["_line_items"]]
            return {
                "object": "list",
                "data": lines,
                "has_more": False,
                "url": f"/v1/checkout/sessions/{obj['id']}/line_items",
            }
        if field == "breakdown":
            return {"discounts": [], "taxes": []}
        if kind == "customer" and field in ("sources", "tax_ids"):
            return build.empty_list(f"/v1/customers/{obj['id']}/{field}")
        if kind == "customer" and field == "subscriptions":
            subs = [self.render(s) for s in self.all_of("subscription") if s["customer"] == obj["id"]]
            return {
                "object": "list",
                "data": subs,
                "has_more": False,
                "url": f"/v1/customers/{obj['id']}/subscriptions",
            }
        if kind == "price" and field == "currency_options":
            return {
                obj["currency"]: {
                    "custom_unit_amount": None,
                    "tax_behavior": obj["tax_behavior"],
                    "unit_amount": obj["unit_amount"],
                    "unit_amount_decimal": obj["unit_amount_decimal"],
                }
            }
        if kind == "price" and field == "tiers":
            return None
        if kind == "invoice" and field == "payments":
            intent = self.objects.get(self.intent_of_invoice.get(obj["id"], ""))
            data = [documents.invoice_payment(obj["created"], obj, intent)] if intent else []
            return {
                "object": "list",
                "data": data,
                "has_more": False,
                "url": f"/v1/invoices/{obj['id']}/payments",
            }
        if kind == "item" and field == "discounts":
            return []
        raise KeyError(field)

    def _render_checkout_line(self, line: JsonDict) -> JsonDict:
        return {**copy.deepcopy(line), "price": self.render(self.objects[line["price"]])}

    def record(self, type_: str, obj: JsonDict, before: JsonDict | None = None) -> JsonDict:
        """Record an Event for ``obj``; ``before`` (an earlier ``render``) yields ``previous_attributes``."""
        after = self.render(obj)
        previous = None
        if before is not None:
            previous = {key: value for key, value in before.items() if after.get(key) != value}
        event = build.event(self.now(), type_, after, previous, self.request_context)
        self.events.append(self.put(event))
        return event

    # -- customers and payment methods -----------------------------------------------------------------

    def create_customer(self, params: JsonDict) -> JsonDict:
        cust = self.put(build.customer(self.now(), params))
        cust["metadata"] = merge_metadata({}, params.get("metadata"))
        if card := params.get("payment_method"):
            self.attach_card(cust, card)
        default_pm = (params.get("invoice_settings") or {}).get("default_payment_method")
        if default_pm:
            cust["invoice_settings"]["default_payment_method"] = self.card_id(cust, default_pm)
        self.record("customer.created", cust)
        return cust

    def attach_card(self, cust: JsonDict, card: str) -> JsonDict:
        """Attach a payment method by id, or a fresh copy of one of Stripe's test cards (``pm_card_visa``)."""
        if card in TEST_CARDS:
            pm = self.put(build.payment_method(self.now(), cust["id"], declines=TEST_CARDS[card]))
            if TEST_CARDS[card]:
                self.declining_cards.add(pm["id"])
        else:
            pm = self.get("payment_method", card, "payment_method")
            pm["customer"] = cust["id"]
        self.record("payment_method.attached", pm)
        return pm

    def card_id(self, cust: JsonDict, card: str) -> str:
        """A payment method id to store on ``cust``'s objects, attaching a test card if given one."""
        if card in TEST_CARDS:
            return self.attach_card(cust, card)["id"]
        pm = self.get("payment_method", card, "default_payment_method")
        if pm["customer"] != cust["id"]:
            raise StripeError(
                400,
                f"The payment method `{card}` must be attached to the customer.",
                param="default_payment_method",
            )
        return card
