"""Billing work that spans models or reaches Stripe: Checkout, the portal, and following Stripe's state."""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.db import transaction

from accounts.models import User
from billing import stripe_gateway
from billing.catalog import USER_METADATA_KEY, Interval
from billing.models import Subscription, SubscriptionChange
from billing.plans import PlanName, check_storage, limits_of
from billing.stripe_state import state_of

logger = logging.getLogger(__name__)


class CheckoutRefused(Exception):
    """The plan or interval cannot be bought (free, unknown, or not priced in Stripe yet)."""


def customer_for(user: User) -> str:
    """The user's Stripe customer id, created in Stripe on first use and kept on their Subscription."""
    subscription, _ = Subscription.objects.get_or_create(user=user)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    customer_id = stripe_gateway.create_customer(user.email, user.pk)  # idempotent per user in Stripe
    with transaction.atomic():
        subscription.remember_customer(customer_id)
    return customer_id


def start_checkout(user: User, plan: str, interval: str, success_url: str, cancel_url: str) -> str:
    """Where to send ``user`` to pay for ``plan`` billed every ``interval``: a Stripe Checkout URL."""
    if plan not in PlanName.__members__ or not limits_of(plan).is_paid or interval not in tuple(Interval):
        raise CheckoutRefused("That plan cannot be bought.")
    price_id = stripe_gateway.price_id_for(PlanName(plan), Interval(interval))
    if price_id is None:
        raise CheckoutRefused("That plan is not on sale yet.")
    return stripe_gateway.create_checkout_session(
        customer_id=customer_for(user),
        price_id=price_id,
        user_id=user.pk,
        success_url=success_url,
        cancel_url=cancel_url,
    )


def open_portal(user: User, return_url: str) -> str:
    return stripe_gateway.create_portal_session(customer_id=customer_for(user), return_url=return_url)


def _user_id_for(customer_id: str, metadata: dict) -> int | None:
    by_customer = Subscription.objects.filter(stripe_customer_id=customer_id).values_list(
        "user_id", flat=True
    )
    if customer_id and (found := by_customer.first()) is not None:
        return found
    raw = str(metadata.get(USER_METADATA_KEY) or "")
    if raw.isdigit() and User.objects.filter(pk=int(raw)).exists():
        return int(raw)
    return None


def follow_stripe_subscription(subscription_id: str, event_id: str = "") -> SubscriptionChange | None:
    """Bring the owner's Subscription to the latest state of Stripe subscription ``subscription_id``.

    Reads the subscription from Stripe now, so replayed or out-of-order events all end in Stripe's
    latest state; the row is locked, so concurrent deliveries make at most one change. Runs inside the
    caller's transaction (dj-stripe's, for webhooks): the change commits with the event or not at all.
    """
    data = stripe_gateway.retrieve_subscription(subscription_id)
    state = state_of(data)
    if state is None:
        return None
    user_id = _user_id_for(state.customer_id, data.get("metadata") or {})
    if user_id is None:
        logger.warning("Stripe subscription %s belongs to no Prism user; ignored", subscription_id)
        return None
    with transaction.atomic():
        change = Subscription.locked_for(user_id).apply_stripe_state(state, event_id)
        if change is not None:
            logger.info("Subscription of user %s: %s (event %s)", user_id, change, event_id or "-")
            if change.is_downgrade:
                transaction.on_commit(lambda: enforce_lower_plan(user_id, change.to_plan))
    return change


def enforce_lower_plan(user_id: int, plan: str) -> None:
    """After a plan drops or lapses: switch off what it no longer covers, end streams over it, tell them."""
    from accounts.notices import notify
    from platforms.actions import apply_plan_limits
    from recordings.models import storage_used
    from streaming.actions import end_sessions_over_plan

    switched_off = apply_plan_limits(user_id)
    ended = end_sessions_over_plan(user_id)
    user = User.objects.get(pk=user_id)
    limits = limits_of(plan)
    lines = [f"Your Prism plan is now {limits.title}."]
    if switched_off:
        lines.append(
            f"{len(switched_off)} destination(s) over the plan's limit were switched off (not deleted)."
        )
    if ended:
        lines.append(f"{ended} live stream(s) over the plan's limits were ended.")
    used = storage_used(user_id)
    if not check_storage(limits, used, 0):
        lines.append(
            f"Your recordings take {used / 1024**3:.1f} GB of the plan's {limits.storage_gb} GB: nothing was "
            "deleted, but new streams are not recorded until you delete some or upgrade."
        )
    lines.append("You can upgrade again at any time from the Pricing page.")
    send_mail(f"Your Prism plan is now {limits.title}", "\n\n".join(lines), None, [user.email])
    # The e-mail may go unread: the next page they open says it too, until they dismiss it.
    notify(user_id, " ".join(lines[:-1]), with_pricing=True)
