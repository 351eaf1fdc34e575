"""A subscription's whole life against the fake Stripe: one subscription per customer, plan and interval
changes with prorations previewed then charged, the portal, failed payments, cancel and resume."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import stripe
from django.core import mail
from django.test import Client
from djstripe.models import WebhookEventTrigger

from accounts.models import Notice, User
from billing.configuration import NOT_AVAILABLE, PLACEHOLDER_SECRET_KEY
from billing.models import PlanEnforcement, SubscriptionChange
from platforms.models import PlatformConnection
from tests.billing.conftest import Endpoint, post_event, row, subscribe
from tests.fakes.stripe_api import FakeStripe

# Committed for real (not one test transaction), so enforcement runs on commit as in production.
pytestmark = [pytest.mark.usefixtures("catalog"), pytest.mark.django_db(transaction=True)]
RELEVANT = ("customer.subscription.", "invoice.payment_failed", "invoice.paid")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def deliver_since(fake: FakeStripe, endpoint: Endpoint, mark: int) -> None:
    """Deliver, in order and signed, the subscription and invoice events Stripe sent since ``mark``."""
    for event in fake.events[mark:]:
        if event["type"].startswith(RELEVANT):
            assert post_event(Client(), endpoint, event) == 200


def subscribed(
    fake: FakeStripe, endpoint: Endpoint, user: User, plan: str = "PRO", interval: str = "month"
) -> str:
    mark = len(fake.events)
    sub_id = subscribe(fake, user, plan, interval)
    deliver_since(fake, endpoint, mark)
    assert row(user).effective_plan == plan
    return sub_id


def destinations(user: User, count: int) -> list[PlatformConnection]:
    return [
        PlatformConnection.objects.create(
            user=user, kind="CUSTOM", name=f"Server {n}", include_in_stream=True
        )
        for n in range(count)
    ]


def switched_on(user: User) -> int:
    return PlatformConnection.objects.filter(user=user, include_in_stream=True).count()


def price(lookup_key: str) -> dict[str, Any]:
    return stripe.Price.list(lookup_keys=[lookup_key]).data[0]


# -- one subscription per customer ---------------------------------------------------------------------


def test_a_paying_user_is_offered_a_plan_change_not_a_second_checkout(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    subscribed(fake_stripe, webhook_endpoint, owner)
    client = logged_in(owner)
    page = client.get("/pricing/").content.decode()
    assert "/pricing/checkout/" not in page
    assert "/pricing/change/BUSINESS/month/" in page

    response = client.post("/pricing/checkout/BUSINESS/month/", follow=True)
    assert "You already have a subscription" in response.content.decode()
    assert len(fake_stripe.all_of("checkout.session")) == 1  # only the first purchase's
    assert len(fake_stripe.all_of("subscription")) == 1


def test_a_second_subscription_made_in_stripe_never_flips_the_plan_and_staff_are_told(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    first = subscribed(fake_stripe, webhook_endpoint, owner)
    destinations(owner, 3)
    mark = len(fake_stripe.events)
    second = stripe.Subscription.create(
        customer=row(owner).stripe_customer_id, items=[{"price": price("prism_business_monthly").id}]
    )
    for _ in range(3):  # both bill, month after month, in any order
        fake_stripe.renew(second.id)
        fake_stripe.renew(first)
    with caplog.at_level(logging.WARNING, logger="billing.actions"):
        deliver_since(fake_stripe, webhook_endpoint, mark)
    subscription = row(owner)
    assert (subscription.plan, subscription.stripe_subscription_id) == ("PRO", first)
    assert subscription.other_live_subscriptions == second.id
    assert second.id in caplog.text
    assert not SubscriptionChange.objects.filter(subscription=subscription).exclude(to_plan="PRO").exists()
    assert not PlanEnforcement.objects.filter(user=owner).exclude(change__to_plan="PRO").exists()
    assert switched_on(owner) == 3

    mark = len(fake_stripe.events)
    fake_stripe.cancel_now(first)  # the first ends: the one still live (and billing) is now current
    deliver_since(fake_stripe, webhook_endpoint, mark)
    subscription = row(owner)
    assert (subscription.plan, subscription.stripe_subscription_id) == ("BUSINESS", second.id)
    assert subscription.other_live_subscriptions == ""


# -- plan and interval changes -------------------------------------------------------------------------


def test_an_upgrade_shows_stripes_prorated_amount_then_charges_exactly_that(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    sub_id = subscribed(fake_stripe, webhook_endpoint, owner)
    fake_stripe.clock_offset -= 15 * 86400  # half-way through the month: the period started 15 days ago
    item = fake_stripe.objects[sub_id]["items"]["data"][0]
    item["current_period_start"] -= 15 * 86400
    item["current_period_end"] -= 15 * 86400
    fake_stripe.clock_offset += 15 * 86400
    client = logged_in(owner)

    page = client.get("/pricing/change/BUSINESS/month/")
    assert page.status_code == 200
    preview = page.context["preview"]
    start, end = item["current_period_start"], item["current_period_end"]
    unused = (end - preview.proration_date) / (end - start)
    assert preview.amount_due_cents == round(4900 * unused) - round(1900 * unused)
    assert 1400 < preview.amount_due_cents < 1700  # about half of the 30.00 difference
    assert f"Due now: <strong>{preview.amount_due}</strong>" in page.content.decode()
    assert row(owner).plan == "PRO"  # a preview changes nothing
    assert len(fake_stripe.all_of("invoice")) == 1

    for forged in (preview.proration_date + 86400, preview.proration_date - 86400, "soon"):
        refused = client.post("/pricing/change/BUSINESS/month/", {"proration_date": forged}, follow=True)
        assert "review the change again" in refused.content.decode()
    assert row(owner).plan == "PRO"

    mark = len(fake_stripe.events)
    response = client.post("/pricing/change/BUSINESS/month/", {"proration_date": preview.proration_date})
    assert response.status_code == 302
    assert row(owner).effective_plan == "BUSINESS"  # at once, from Stripe's answer
    invoice = fake_stripe.objects[fake_stripe.objects[sub_id]["latest_invoice"]]
    assert (invoice["amount_due"], invoice["status"]) == (preview.amount_due_cents, "paid")
    deliver_since(fake_stripe, webhook_endpoint, mark)  # the webhooks find nothing left to do
    assert SubscriptionChange.objects.filter(subscription__user=owner, to_plan="BUSINESS").count() == 1
    assert len(fake_stripe.all_of("subscription")) == 1


def test_monthly_to_yearly_restarts_the_period_and_credits_the_unused_month(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    sub_id = subscribed(fake_stripe, webhook_endpoint, owner)
    month_end = row(owner).current_period_end
    client = logged_in(owner)
    preview = client.get("/pricing/change/PRO/year/").context["preview"]
    item = fake_stripe.objects[sub_id]["items"]["data"][0]
    start, end = item["current_period_start"], item["current_period_end"]
    credit = round(1900 * (end - preview.proration_date) / (end - start))
    assert preview.amount_due_cents == 19000 - credit
    assert (
        client.post("/pricing/change/PRO/year/", {"proration_date": preview.proration_date}).status_code
        == 302
    )
    subscription = row(owner)
    assert subscription.plan == "PRO"
    assert (subscription.current_period_end - month_end).days > 300
    assert fake_stripe.objects[sub_id]["items"]["data"][0]["price"] == price("prism_pro_yearly").id
    assert not PlanEnforcement.objects.filter(user=owner).exclude(change__to_plan="PRO").exists()


def test_a_downgrade_switches_off_what_the_plan_no_longer_covers_and_an_upgrade_switches_it_back_on(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    subscribed(fake_stripe, webhook_endpoint, owner, "BUSINESS")
    destinations(owner, 5)
    client = logged_in(owner)
    preview = client.get("/pricing/change/PRO/month/").context["preview"]
    assert preview.amount_due_cents == 0  # a downgrade is credited, never charged
    client.post("/pricing/change/PRO/month/", {"proration_date": preview.proration_date})
    assert row(owner).effective_plan == "PRO"
    assert switched_on(owner) == 3
    assert (
        "2 destination(s) over the plan's limit were switched off" in Notice.objects.get(user=owner).message
    )

    preview = client.get("/pricing/change/BUSINESS/month/").context["preview"]
    client.post("/pricing/change/BUSINESS/month/", {"proration_date": preview.proration_date})
    assert row(owner).effective_plan == "BUSINESS"
    assert switched_on(owner) == 5
    assert not PlatformConnection.objects.filter(user=owner, state="INACTIVE_PLAN").exists()


# -- the portal, failed payments, cancel and resume ------------------------------------------------------


def test_back_from_the_portal_the_page_shows_what_was_done_there_before_any_webhook(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    sub_id = subscribed(fake_stripe, webhook_endpoint, owner)
    client = logged_in(owner)
    location = client.post("/pricing/billing/portal/")["Location"]
    (portal,) = fake_stripe.all_of("billing_portal.session")
    assert location == portal["url"]
    assert portal["return_url"].endswith("/pricing/billing/?portal=return")
    stripe.Subscription.modify(sub_id, cancel_at_period_end=True)  # what the customer did in the portal

    page = client.get("/pricing/billing/?portal=return").content.decode()
    assert row(owner).cancel_at_period_end
    assert "Ends on" in page


def test_past_due_keeps_the_plan_with_a_banner_until_the_card_is_fixed(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    sub_id = subscribed(fake_stripe, webhook_endpoint, owner)
    destinations(owner, 3)
    mark = len(fake_stripe.events)
    fake_stripe.fail_next_invoice(sub_id)
    fake_stripe.renew(sub_id)
    deliver_since(fake_stripe, webhook_endpoint, mark)
    subscription = row(owner)
    assert (subscription.status, subscription.effective_plan) == ("PAST_DUE", "PRO")
    page = logged_in(owner).get("/destinations/").content.decode()
    assert 'id="payment-banner"' in page
    assert 'action="/pricing/billing/portal/"' in page.split('id="payment-banner"')[1].split("</div>")[0]
    assert switched_on(owner) == 3

    mark = len(fake_stripe.events)
    fake_stripe.pay_invoice(fake_stripe.objects[sub_id]["latest_invoice"], payment_succeeds=True)
    deliver_since(fake_stripe, webhook_endpoint, mark)
    assert (row(owner).status, row(owner).effective_plan) == ("ACTIVE", "PRO")
    assert 'id="payment-banner"' not in logged_in(owner).get("/destinations/").content.decode()
    assert not PlanEnforcement.objects.filter(user=owner).exclude(change__to_plan="PRO").exists()


@pytest.mark.parametrize("then", ["canceled", "unpaid"])
def test_when_stripe_gives_up_on_a_past_due_payment_the_user_is_on_free_with_enforcement(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User, then: str
) -> None:
    sub_id = subscribed(fake_stripe, webhook_endpoint, owner)
    destinations(owner, 3)
    mark = len(fake_stripe.events)
    fake_stripe.fail_next_invoice(sub_id)
    fake_stripe.renew(sub_id)
    fake_stripe.give_up_on_payment(sub_id, then=then)
    deliver_since(fake_stripe, webhook_endpoint, mark)
    subscription = row(owner)
    assert subscription.effective_plan == "FREE"
    assert subscription.status == {"canceled": "CANCELED", "unpaid": "UNPAID"}[then]
    assert switched_on(owner) == 1
    (job,) = PlanEnforcement.objects.filter(user=owner, change__to_plan="FREE")
    assert job.state == "DONE"
    assert [m.subject for m in mail.outbox] == ["Your Prism plan is now Free"]
    assert "Your Prism plan is now Free" in Notice.objects.get(user=owner).message


def test_cancel_at_period_end_then_resume_shows_the_dates(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    sub_id = subscribed(fake_stripe, webhook_endpoint, owner)
    client = logged_in(owner)
    end = row(owner).current_period_end.strftime("%-d %B %Y")
    page = client.post("/pricing/billing/cancel/", follow=True).content.decode()
    assert fake_stripe.objects[sub_id]["cancel_at_period_end"] is True
    assert f"Ends on {end}; you are then on Free." in page
    assert row(owner).effective_plan == "PRO"  # paid to the end of the period
    page = client.post("/pricing/billing/resume/", follow=True).content.decode()
    assert fake_stripe.objects[sub_id]["cancel_at_period_end"] is False
    assert f"Renews on {end}." in page

    client.post("/pricing/billing/cancel/")
    mark = len(fake_stripe.events)
    fake_stripe.advance_time(40 * 86400)
    deliver_since(fake_stripe, webhook_endpoint, mark)
    assert (row(owner).effective_plan, row(owner).status) == ("FREE", "CANCELED")


def test_the_account_page_shows_the_card_and_exact_invoice_amounts(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    subscribed(fake_stripe, webhook_endpoint, owner, "BUSINESS", "year")
    page = logged_in(owner).get("/pricing/billing/").content.decode()
    assert "Paying with Visa ending 4242" in page
    assert '<td class="amount">490.00 USD</td>' in page


# -- billing off, forged webhooks, the key on admin pages ------------------------------------------------


def test_without_a_stripe_key_billing_says_it_is_not_available_and_calls_nothing(
    fake_stripe: FakeStripe, owner: User, settings: Any
) -> None:
    settings.STRIPE_TEST_SECRET_KEY = PLACEHOLDER_SECRET_KEY
    fake_stripe.reset()
    client = logged_in(owner)
    page = client.get("/pricing/").content.decode()
    assert NOT_AVAILABLE in page
    assert "/pricing/checkout/" not in page
    assert 'id="what-to-set"' not in page  # only staff are told what to set
    response = client.post("/pricing/checkout/PRO/month/", follow=True)
    assert NOT_AVAILABLE in response.content.decode()
    assert "try again" not in response.content.decode()
    assert client.get("/pricing/billing/").status_code == 200
    assert fake_stripe.requests == []

    owner.is_staff = True
    owner.save()
    assert "STRIPE_TEST_SECRET_KEY" in client.get("/pricing/").content.decode()


def test_forged_deliveries_store_nothing_and_log_no_error(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(fake_stripe, owner)
    (created,) = fake_stripe.events_of_type("customer.subscription.created")
    before = WebhookEventTrigger.objects.count()
    client = Client()
    with caplog.at_level(logging.INFO):
        for n in range(200):
            assert post_event(client, webhook_endpoint, created, secret=f"whsec_forged{n}") == 400
        assert client.post(webhook_endpoint.url, b"{}", content_type="application/json").status_code == 400
    assert WebhookEventTrigger.objects.count() == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
    assert post_event(client, webhook_endpoint, created) == 200  # the genuine one still goes through
    assert row(owner).effective_plan == "PRO"
