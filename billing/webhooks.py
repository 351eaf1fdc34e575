"""Stripe events, as dj-stripe delivers them after checking their signature.

dj-stripe calls these inside the transaction in which it stores the event: an exception here rolls
back the event and our change together, and dj-stripe answers 500 so that Stripe retries.
"""

from __future__ import annotations

from typing import Any

from djstripe.event_handlers import djstripe_receiver
from djstripe.models import Event

from billing.actions import follow_stripe_subscription
from billing.stripe_state import subscription_id_of_invoice


@djstripe_receiver(
    [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    ]
)
def on_subscription_event(sender: Any, event: Event, **kwargs: Any) -> None:
    follow_stripe_subscription(str(event.data["object"]["id"]), event.id)


@djstripe_receiver(["invoice.payment_failed", "invoice.paid"])
def on_invoice_event(sender: Any, event: Event, **kwargs: Any) -> None:
    subscription_id = subscription_id_of_invoice(event.data["object"])
    if subscription_id:
        follow_stripe_subscription(subscription_id, event.id)
