"""Stripe events, as dj-stripe delivers them after checking their signature.

dj-stripe calls these inside the transaction in which it stores the event: an exception here rolls
back the event and our change together, and dj-stripe answers 500 so that Stripe retries. Every event
only tells us *which customer* to look at: we read that customer's subscriptions from Stripe now.
"""

from __future__ import annotations

from typing import Any

from djstripe.event_handlers import djstripe_receiver
from djstripe.models import Event

from billing.actions import follow_stripe_customer


def _customer_of(obj: dict[str, Any]) -> str:
    customer = obj.get("customer")
    return str(customer["id"] if isinstance(customer, dict) else customer or "")


@djstripe_receiver(
    [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "invoice.payment_failed",
        "invoice.paid",
    ]
)
def on_subscription_event(sender: Any, event: Event, **kwargs: Any) -> None:
    if customer_id := _customer_of(event.data["object"]):
        follow_stripe_customer(customer_id, event.id)
