from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from billing.models import SubscriptionChange
from platforms.models import PlatformConnection
from tests.billing.conftest import Endpoint, post_event, row
from tests.fakes.stripe_api import FakeStripe

pytestmark = pytest.mark.usefixtures("catalog")


def logged_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_checkout_for_pro_then_the_signed_created_webhook_puts_the_user_on_pro(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    client = logged_in(owner)
    response = client.post("/pricing/checkout/PRO/month/")
    assert response.status_code == 302
    assert response["Location"].startswith(fake_stripe.url + "/checkout/")
    session_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    session = fake_stripe.objects[session_id]
    assert session["client_reference_id"] == str(owner.pk)
    assert row(owner).stripe_customer_id == session["customer"]
    assert row(owner).effective_plan == "FREE"

    fake_stripe.complete_checkout(session_id)
    (created,) = fake_stripe.events_of_type("customer.subscription.created")
    assert post_event(Client(), webhook_endpoint, created) == 200

    subscription = row(owner)
    assert (subscription.plan, subscription.status, subscription.effective_plan) == ("PRO", "ACTIVE", "PRO")
    assert subscription.stripe_subscription_id == session["subscription"]
    item = fake_stripe.objects[session["subscription"]]["items"]["data"][0]
    assert subscription.current_period_end.timestamp() == item["current_period_end"]
    assert client.get("/pricing/billing/").context["limits"].title == "Pro"


def test_yearly_business_checkout_uses_the_yearly_business_price(
    fake_stripe: FakeStripe, owner: User
) -> None:
    response = logged_in(owner).post("/pricing/checkout/BUSINESS/year/")
    session = fake_stripe.objects[response["Location"].rstrip("/").rsplit("/", 1)[-1]]
    price = fake_stripe.objects[session["_line_items"][0]["price"]]
    assert (price["lookup_key"], price["unit_amount"]) == ("prism_business_yearly", 49000)


@pytest.mark.parametrize("path", ["/pricing/checkout/FREE/month/", "/pricing/checkout/PRO/week/"])
def test_checkout_refuses_what_cannot_be_bought(fake_stripe: FakeStripe, owner: User, path: str) -> None:
    response = logged_in(owner).post(path, follow=True)
    assert response.redirect_chain[-1][0] == "/pricing/"
    assert fake_stripe.all_of("checkout.session") == []


def test_checkout_needs_a_login_and_a_post(fake_stripe: FakeStripe, owner: User) -> None:
    assert Client().post("/pricing/checkout/PRO/month/").status_code == 302
    assert logged_in(owner).get("/pricing/checkout/PRO/month/").status_code == 405
    assert fake_stripe.all_of("checkout.session") == []


def test_the_customer_is_created_once_and_reused(fake_stripe: FakeStripe, owner: User) -> None:
    client = logged_in(owner)
    client.post("/pricing/checkout/PRO/month/")
    client.post("/pricing/checkout/BUSINESS/month/")
    assert len(fake_stripe.all_of("customer")) == 1


def test_the_billing_portal_button_leads_to_stripes_portal_for_this_customer(
    fake_stripe: FakeStripe, owner: User
) -> None:
    client = logged_in(owner)
    client.post("/pricing/checkout/PRO/month/")
    response = client.post("/pricing/billing/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith(fake_stripe.url + "/portal/")
    (portal,) = fake_stripe.all_of("billing_portal.session")
    assert portal["customer"] == row(owner).stripe_customer_id


def test_the_pricing_page_marks_the_current_plan_and_offers_upgrades(owner: User) -> None:
    page = logged_in(owner).get("/pricing/").content.decode()
    free_card = page.split('id="plan-free"')[1].split("</section>")[0]
    assert "Your plan" in free_card
    assert "/pricing/checkout/PRO/month/" in page
    assert "/pricing/checkout/BUSINESS/year/" in page
    assert "$19" in page
    assert "$490" in page


def test_the_billing_page_shows_plan_renewal_and_invoices(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User
) -> None:
    client = logged_in(owner)
    session_id = client.post("/pricing/checkout/PRO/month/")["Location"].rstrip("/").rsplit("/", 1)[-1]
    fake_stripe.complete_checkout(session_id)
    for event in fake_stripe.events_of_type("customer.subscription.created"):
        post_event(Client(), webhook_endpoint, event)
    page = client.get("/pricing/billing/").content.decode()
    assert '<span id="current-plan">Pro</span>' in page
    assert "Renews on" in page
    assert "19.00 USD" in page  # exact, in the smallest unit Stripe bills
    assert "<td>paid</td>" in page


def test_cancelling_in_the_portal_lapses_to_free_switches_extra_destinations_off_and_tells_the_user(
    fake_stripe: FakeStripe, webhook_endpoint: Endpoint, owner: User, django_capture_on_commit_callbacks
) -> None:
    from tests.billing.conftest import subscribe

    sub_id = subscribe(fake_stripe, owner)
    for event in fake_stripe.events_of_type("customer.subscription.created"):
        post_event(Client(), webhook_endpoint, event)
    assert row(owner).effective_plan == "PRO"
    for n in range(3):
        PlatformConnection.objects.create(
            user=owner, kind="CUSTOM", name=f"Server {n}", include_in_stream=True
        )
    fake_stripe.cancel_now(sub_id)
    (deleted,) = fake_stripe.events_of_type("customer.subscription.deleted")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(Client(), webhook_endpoint, deleted) == 200
    subscription = row(owner)
    assert (subscription.plan, subscription.status) == ("FREE", "CANCELED")
    change = SubscriptionChange.objects.filter(subscription=subscription).first()
    assert (change.from_plan, change.to_plan) == ("PRO", "FREE")
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "now Free" in mail.outbox[0].subject
    assert "2 destination(s)" in mail.outbox[0].body
    states = list(
        PlatformConnection.objects.filter(user=owner).order_by("pk").values_list("state", flat=True)
    )
    assert states == ["CONNECTED", "INACTIVE_PLAN", "INACTIVE_PLAN"]
