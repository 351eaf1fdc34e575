"""What a Stripe subscription object means for our Subscription row. Pure: no Django, no network.

Reads the API version stripe-python 15 pins (2026-08-26.dahlia): the billing period lives on the
subscription's items, not on the subscription (see docs/decisions.md, Billing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from billing.catalog import plan_of_price
from billing.plans import PlanName

STATUS_MAP = {
    "active": "ACTIVE",
    "trialing": "TRIALING",
    "past_due": "PAST_DUE",
    "unpaid": "UNPAID",
    "canceled": "CANCELED",
    "incomplete_expired": "CANCELED",
}
# "incomplete" (first payment not through yet) and "paused" are not in STATUS_MAP: they grant nothing and
# the user stays where they are.
# Stripe keeps retrying a past_due invoice: the plan holds until Stripe gives up (unpaid or canceled).
LIVE_STRIPE_STATUSES = frozenset({"active", "trialing", "past_due"})


@dataclass(frozen=True)
class StripeSubscriptionState:
    """The fields of our Subscription that follow from one Stripe subscription object."""

    subscription_id: str
    customer_id: str
    plan: PlanName
    status: str
    current_period_start: dt.datetime | None
    current_period_end: dt.datetime | None
    cancel_at_period_end: bool


def _timestamp(value: object) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if isinstance(value, int | float) else None


def state_of(subscription: dict) -> StripeSubscriptionState | None:
    """The state ``subscription`` (a Stripe subscription object as a dict) implies; None while it is
    pending (incomplete) or in a status we do not know, so that it changes nothing."""
    stripe_status = subscription.get("status")
    if stripe_status not in STATUS_MAP:
        return None
    status = STATUS_MAP[stripe_status]
    items = (subscription.get("items") or {}).get("data") or []
    plans = [plan_of_price(item.get("price") or {}) for item in items]
    plan = next((p for p in plans if p is not None), PlanName.FREE)
    if status in ("CANCELED", "UNPAID"):
        plan = PlanName.FREE
    starts = [item.get("current_period_start") for item in items if item.get("current_period_start")]
    ends = [item.get("current_period_end") for item in items if item.get("current_period_end")]
    customer = subscription.get("customer")
    return StripeSubscriptionState(
        subscription_id=str(subscription["id"]),
        customer_id=str(customer["id"] if isinstance(customer, dict) else customer or ""),
        plan=plan,
        status=status,
        current_period_start=_timestamp(min(starts)) if starts else None,
        current_period_end=_timestamp(max(ends)) if ends else None,
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
    )


@dataclass(frozen=True)
class CurrentSubscription:
    """Which of a customer's Stripe subscriptions decides their plan, and which others are live."""

    current: dict | None
    others_live: tuple[str, ...]


def current_subscription(subscriptions: list[dict], incumbent: str = "") -> CurrentSubscription:
    """The one rule: the oldest live (active, trialing, past_due) subscription is current; with none live,
    the newest one that is not pending, so the account shows how the last one ended. Plan changes modify
    the current subscription in place, so a second one (Checkout twice, one made in Stripe's dashboard)
    is always newer and never takes over while the first lives; staff are told about it instead.
    Stripe stamps ``created`` in whole seconds: of two made in the same second, the ``incumbent`` (the
    one already current here) stays, so a same-second twin cannot take over either. Depends only on
    Stripe's state and the incumbent, never on the order events arrive in."""

    def _created(subscription: dict) -> tuple[int, bool, str]:
        sub_id = str(subscription["id"])
        return (int(subscription.get("created") or 0), sub_id != incumbent, sub_id)

    live = sorted((s for s in subscriptions if s.get("status") in LIVE_STRIPE_STATUSES), key=_created)
    if live:
        return CurrentSubscription(live[0], tuple(str(s["id"]) for s in live[1:]))
    settled = [s for s in subscriptions if s.get("status") in STATUS_MAP]
    return CurrentSubscription(max(settled, key=_created) if settled else None, ())
