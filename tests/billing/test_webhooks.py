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
from billing.models import SubscriptionChange
from billing.stripe_state import state_of
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


operations = st.lists(
    st.sampled_from(["business", "cancel_at_period_end", "failed_renewal", "renewal", "cancel_now"]),
    max_size=4,
)


@pytest.mark.usefixtures("catalog")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, data=st.data())
def test_random_events_in_random_order_move_plan_and_subscription_together_to_stripes_latest_state(
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
        if after != before:
            latest = SubscriptionChange.objects.filter(subscription__user=user).first()
            assert (latest.to_plan, latest.to_status) == (row(user).effective_plan, row(user).status)
    for event, kind in deliveries:
        if kind in ("forged", "stale"):
            assert post_event(client, webhook_endpoint, event) == 200  # Stripe's retry, signed properly
    latest = state_of(stripe.Subscription.retrieve(sub_id).to_dict())
    s = row(user)
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
