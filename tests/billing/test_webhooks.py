"""Property 8 and the webhook endpoint: signed events move plan and Subscription together, to the latest
state of the Stripe object; forged or stale deliveries and failed processing change nothing."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from django.db import connections
from django.test import Client
from djstripe.models import Event, WebhookEventTrigger
from djstripe.settings import djstripe_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from billing.models import PlanEnforcement, SubscriptionChange
from billing.stripe_state import StripeSubscriptionState, current_subscription, state_of
from tests.billing.conftest import Endpoint, post_event, row, subscribe
from tests.conftest import make_user
from tests.fakes import stripe_webhooks
from tests.fakes.stripe_api import FakeStripe

RELEVANT = ("customer.subscription.", "invoice.payment_failed", "invoice.paid")


def snapshot(user: User) -> tuple:
    s = row(user)
    fields = (s.current_period_start, s.current_period_end, s.cancel_at_period_end, s.stripe_subscription_id)
    return (s.plan, s.status, *fields)


def act(fake: FakeStripe, sub_id: str, operation: str) -> None:
    sub = fake.objects[sub_id]
    if operation == "second_subscription":  # Checkout twice, or one made in Stripe's dashboard
        business = stripe.Price.list(lookup_keys=["prism_business_monthly"]).data[0]
        stripe.Subscription.create(customer=sub["customer"], items=[{"price": business.id}])
        return
    if operation == "second_renewal":
        others = [s for s in fake.all_of("subscription") if s["customer"] == sub["customer"] and s is not sub]
        if others and others[-1]["status"] in ("active", "past_due"):
            fake.renew(others[-1]["id"])
        return
    if sub["status"] == "canceled":
        return
    if operation == "business":
        business = stripe.Price.list(lookup_keys=["prism_business_monthly"]).data[0]
        stripe.Subscription.modify(
            sub_id, items=[{"id": sub["items"]["data"][0]["id"], "price": business.id}]
        )
    elif operation == "cancel_at_period_end":
        stripe.Subscription.modify(sub_id, cancel_at_period_end=True)
    elif operation == "failed_renewal":
        fake.fail_next_invoice(sub_id)
        fake.renew(sub_id)
    elif operation == "renewal":
        fake.renew(sub_id)
    elif operation == "cancel_now":
        fake.cancel_now(sub_id)
    elif operation == "given_up_unpaid" and sub["status"] == "past_due":
        fake.give_up_on_payment(sub_id, then="unpaid")


def stripes_current_state(sub_id: str) -> StripeSubscriptionState:
    """What the one rule makes of every subscription the customer has in Stripe now."""
    customer = stripe.Subscription.retrieve(sub_id).customer
    subscriptions = [s.to_dict() for s in stripe.Subscription.list(customer=customer, status="all").data]
    state = state_of(current_subscription(subscriptions).current)
    assert state is not None
    return state


operations = st.lists(
    st.sampled_from(
        [
            "business",
            "cancel_at_period_end",
            "failed_renewal",
            "renewal",
            "cancel_now",
            "second_subscription",
            "second_renewal",
            "given_up_unpaid",
        ]
    ),
    max_size=5,
)


@pytest.mark.usefixtures("catalog")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, data=st.data())
def test_any_events_in_any_order_leave_the_plan_of_the_current_subscription_each_change_recorded_once(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, ops: list[str], data: st.DataObject
) -> None:
    user = make_user()
    mark = len(fake_stripe.events)
    sub_id = subscribe(fake_stripe, user)
    for operation in ops:
        act(fake_stripe, sub_id, operation)
    events = [e for e in fake_stripe.events[mark:] if e["type"].startswith(RELEVANT)]
    order = data.draw(st.permutations(events), label="delivery order")
    deliveries = []
    for event in order:
        deliveries.append((event, data.draw(st.sampled_from(["good", "forged", "stale", "replayed"]))))
    client = Client()
    for event, kind in deliveries:
        before, changes_before = (
            snapshot(user),
            SubscriptionChange.objects.filter(subscription__user=user).count(),
        )
        if kind == "forged":
            status = post_event(client, webhook_endpoint, event, secret="whsec_forged")
        elif kind == "stale":
            body, headers = stripe_webhooks.signed_webhook(
                event, webhook_endpoint.secret, timestamp=int(time.time()) - 3600
            )
            status = client.post(
                webhook_endpoint.url,
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
            ).status_code
        else:
            status = post_event(client, webhook_endpoint, event)
            if kind == "replayed":
                assert post_event(client, webhook_endpoint, event) == 200
        after, changes = snapshot(user), SubscriptionChange.objects.filter(subscription__user=user).count()
        if kind in ("forged", "stale"):
            assert status == 400
            assert (after, changes) == (before, changes_before)
            continue
        assert status == 200
        assert (after != before) == (changes == changes_before + 1)
        assert changes <= changes_before + 1
        # Every good delivery reads Stripe's state now: from the first one on, the row is the current
        # subscription's, whichever event it carried, and nothing after changes it again.
        s, expected = row(user), stripes_current_state(sub_id)
        assert (s.plan, s.status, s.stripe_subscription_id) == (
            expected.plan,
            expected.status,
            expected.subscription_id,
        )
        if after != before:
            latest = SubscriptionChange.objects.filter(subscription__user=user).first()
            assert (latest.to_plan, latest.to_status) == (row(user).effective_plan, row(user).status)
    for event, kind in deliveries:
        if kind in ("forged", "stale"):
            assert post_event(client, webhook_endpoint, event) == 200  # Stripe's retry, signed properly
    latest = stripes_current_state(sub_id)
    s = row(user)
    recorded = SubscriptionChange.objects.filter(subscription__user=user)
    # Stripe's state was final before the first delivery: the first good one made the one change there is.
    assert recorded.count() == 1
    plan_changes = [c for c in recorded if c.changes_plan]
    assert PlanEnforcement.objects.filter(user=user).count() == len(plan_changes)
    assert (s.plan, s.status, s.cancel_at_period_end) == (
        latest.plan,
        latest.status,
        latest.cancel_at_period_end,
    )
    assert s.current_period_end == latest.current_period_end


@pytest.mark.usefixtures("catalog")
def test_a_forged_signature_is_refused_and_stores_no_event(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    subscribe(fake_stripe, owner)
    (created,) = fake_stripe.events_of_type("customer.subscription.created")
    assert post_event(Client(), webhook_endpoint, created, secret="whsec_someone_else") == 400
    assert not Event.objects.filter(id=created["id"]).exists()
    assert row(owner).effective_plan == "FREE"


@pytest.mark.usefixtures("catalog")
def test_when_processing_fails_it_answers_500_changes_nothing_logs_no_secret_and_the_retry_works(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(fake_stripe, owner)
    (created,) = fake_stripe.events_of_type("customer.subscription.created")
    fake_stripe.api_key = "sk_test_" + "Z" * 30  # Stripe now refuses our key: processing cannot fetch
    with caplog.at_level(logging.DEBUG):
        status = post_event(Client(raise_request_exception=False), webhook_endpoint, created)
    fake_stripe.api_key = None
    assert status == 500
    assert row(owner).effective_plan == "FREE"
    assert not SubscriptionChange.objects.exists()
    assert not Event.objects.filter(id=created["id"]).exists()
    trigger = WebhookEventTrigger.objects.order_by("-id").first()
    assert trigger.exception
    logged = caplog.text + trigger.exception
    assert djstripe_settings.STRIPE_SECRET_KEY not in logged
    assert webhook_endpoint.secret not in logged

    assert post_event(Client(), webhook_endpoint, created) == 200
    assert row(owner).effective_plan == "PRO"


@pytest.mark.django_db(transaction=True)
def test_a_webhook_sent_50_times_some_concurrently_makes_exactly_one_change(
    fake_stripe: FakeStripe, catalog: None, webhook_endpoint: Endpoint
) -> None:
    user = make_user("concurrent@example.com")
    subscribe(fake_stripe, user)
    (created,) = fake_stripe.events_of_type("customer.subscription.created")

    def send(_: int) -> int:
        try:
            return post_event(Client(raise_request_exception=False), webhook_endpoint, created)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(send, range(40)))
    statuses += [send(i) for i in range(10)]
    assert statuses == [200] * 50
    assert SubscriptionChange.objects.filter(subscription__user=user).count() == 1
    assert Event.objects.filter(id=created["id"]).count() == 1
    assert row(user).effective_plan == "PRO"
