"""Billing work that spans models or reaches Stripe: Checkout, plan changes, the portal, and following
Stripe's state."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import transaction

from accounts.models import User
from billing import stripe_gateway
from billing.catalog import USER_METADATA_KEY, Interval
from billing.models import PlanEnforcement, Subscription, SubscriptionChange
from billing.plans import PlanName, limits_of
from billing.stripe_state import LIVE_STRIPE_STATUSES, current_subscription, state_of
from billing.tasks import enforce_plan_change

logger = logging.getLogger(__name__)
PREVIEW_VALID_SECONDS = 30 * 60


class CheckoutRefused(Exception):
    """The plan or interval cannot be bought (free, unknown, not priced in Stripe yet, or the user already
    pays: they change plan instead)."""


class PlanChangeRefused(Exception):
    """The plan change cannot be made (no live subscription, the same price, an unknown plan)."""


def customer_for(user: User) -> str:
    """The user's Stripe customer id, created in Stripe on first use and kept on their Subscription."""
    subscription, _ = Subscription.objects.get_or_create(user=user)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    customer_id = stripe_gateway.create_customer(user.email, user.pk)  # idempotent per user in Stripe
    with transaction.atomic():
        subscription.remember_customer(customer_id)
    return customer_id


def _price_for(plan: str, interval: str, refused: type[Exception]) -> str:
    if plan not in PlanName.__members__ or not limits_of(plan).is_paid or interval not in tuple(Interval):
        raise refused("That plan cannot be bought.")
    price_id = stripe_gateway.price_id_for(PlanName(plan), Interval(interval))
    if price_id is None:
        raise refused("That plan is not on sale yet.")
    return price_id


def live_subscription_of(user: User) -> dict[str, Any] | None:
    """The user's current Stripe subscription if it is live (active, trialing, past_due), asked of Stripe
    (a webhook may not have arrived yet)."""
    customer_id = Subscription.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first()
    if not customer_id:
        return None
    current = current_subscription(stripe_gateway.list_subscriptions(customer_id)).current
    return current if current is not None and current.get("status") in LIVE_STRIPE_STATUSES else None


def start_checkout(user: User, plan: str, interval: str, success_url: str, cancel_url: str) -> str:
    """Where to send ``user`` to pay for ``plan`` billed every ``interval``: a Stripe Checkout URL.

    Only for a user without a live subscription: a second Checkout would make a second subscription that
    bills too. Paying users change the subscription they have (``preview_plan_change``/``change_plan``).
    """
    price_id = _price_for(plan, interval, CheckoutRefused)
    if live_subscription_of(user) is not None:
        raise CheckoutRefused("You already have a subscription: change your plan instead.")
    return stripe_gateway.create_checkout_session(
        customer_id=customer_for(user),
        price_id=price_id,
        user_id=user.pk,
        success_url=success_url,
        cancel_url=cancel_url,
    )


def _changeable(user: User, plan: str, interval: str) -> tuple[dict[str, Any], str]:
    price_id = _price_for(plan, interval, PlanChangeRefused)
    subscription = live_subscription_of(user)
    if subscription is None:
        raise PlanChangeRefused("You have no subscription to change: choose a plan to subscribe.")
    if subscription["items"]["data"][0]["price"]["id"] == price_id:
        raise PlanChangeRefused("You are on that plan already.")
    return subscription, price_id


def preview_plan_change(user: User, plan: str, interval: str) -> stripe_gateway.ChangePreview:
    """What moving the user's subscription to ``plan``/``interval`` bills now (Stripe's prorations)."""
    subscription, price_id = _changeable(user, plan, interval)
    return stripe_gateway.preview_price_change(subscription, price_id, int(time.time()))


def change_plan(user: User, plan: str, interval: str, proration_date: int) -> SubscriptionChange | None:
    """Move the user's live subscription to ``plan``/``interval``, prorated as previewed at
    ``proration_date``; the plan follows Stripe's answer at once (the webhook finds nothing left to do)."""
    # The date comes back from the confirmation form: a stale or forged one would prorate another amount
    # than the one shown (a late date makes an upgrade cheaper).
    if not time.time() - PREVIEW_VALID_SECONDS <= proration_date <= time.time():
        raise PlanChangeRefused("That preview has expired: please review the change again.")
    subscription, price_id = _changeable(user, plan, interval)
    changed = stripe_gateway.change_price(subscription, price_id, proration_date)
    return follow_stripe_customer(str(changed["customer"]), "")


def set_cancel_at_period_end(user: User, cancel: bool) -> SubscriptionChange | None:
    """Cancel at the end of the paid period (the plan holds until then), or undo that (resume)."""
    subscription = live_subscription_of(user)
    if subscription is None:
        raise PlanChangeRefused("You have no subscription to cancel or resume.")
    changed = stripe_gateway.set_cancel_at_period_end(str(subscription["id"]), cancel)
    return follow_stripe_customer(str(changed["customer"]), "")


def open_portal(user: User, return_url: str) -> str:
    return stripe_gateway.create_portal_session(customer_id=customer_for(user), return_url=return_url)


def refresh_from_stripe(user: User) -> SubscriptionChange | None:
    """Back from the billing portal: follow what the customer did there now, before any webhook."""
    customer_id = Subscription.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first()
    return follow_stripe_customer(customer_id, "") if customer_id else None


def _user_id_for(customer_id: str, subscriptions: list[dict[str, Any]]) -> int | None:
    by_customer = Subscription.objects.filter(stripe_customer_id=customer_id).values_list(
        "user_id", flat=True
    )
    if customer_id and (found := by_customer.first()) is not None:
        return found
    for subscription in subscriptions:
        raw = str((subscription.get("metadata") or {}).get(USER_METADATA_KEY) or "")
        if raw.isdigit() and User.objects.filter(pk=int(raw)).exists():
            return int(raw)
    return None


def follow_stripe_customer(customer_id: str, event_id: str = "") -> SubscriptionChange | None:
    """Bring the owner's Subscription to the state of the customer's current Stripe subscription.

    Reads the customer's subscriptions from Stripe now, so replayed, duplicated or out-of-order events
    all end in Stripe's latest state, and ``current_subscription`` (one rule, from Stripe's state alone)
    decides which subscription sets the plan. The row is locked: concurrent deliveries make at most one
    change. Runs inside the caller's transaction (dj-stripe's, for webhooks). A change of effective plan
    creates its PlanEnforcement in the same transaction and queues it on commit.
    """
    subscriptions = stripe_gateway.list_subscriptions(customer_id)
    user_id = _user_id_for(customer_id, subscriptions)
    if user_id is None:
        logger.warning("Stripe customer %s belongs to no Prism user; ignored", customer_id)
        return None
    with transaction.atomic():
        row = Subscription.locked_for(user_id)
        chosen = current_subscription(subscriptions, incumbent=row.stripe_subscription_id or "")
        state = state_of(chosen.current) if chosen.current is not None else None
        if state is None:
            return None
        _tell_staff_of_other_subscriptions(row, chosen.others_live)
        change = row.apply_stripe_state(state, event_id)
        if change is None:
            return None
        logger.info("Subscription of user %s: %s (event %s)", user_id, change, event_id or "-")
        if change.changes_plan:
            job = PlanEnforcement.objects.create(change=change, user_id=user_id)
            enforce_plan_change.delay_on_commit(job.pk)
    return change


def _tell_staff_of_other_subscriptions(row: Subscription, others: tuple[str, ...]) -> None:
    listed = ",".join(others)[:255]
    if row.other_live_subscriptions == listed:
        return
    if others:
        logger.warning(
            "User %s has %d live Stripe subscription(s) besides the current %s: %s. They bill but grant "
            "nothing; refund and cancel them in Stripe.",
            row.user_id,
            len(others),
            row.stripe_subscription_id or "-",
            listed,
        )
    row.other_live_subscriptions = listed
    row.save(update_fields=["other_live_subscriptions", "updated_at"])
