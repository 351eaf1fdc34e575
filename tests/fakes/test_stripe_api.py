"""The fake Stripe answers real stripe-python 15 as Stripe would. No Django.

Run alone with ``pytest tests/fakes/test_stripe_api.py -p no:django --noconftest`` (tests/conftest.py
needs Django).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import stripe

from tests.fakes.stripe_api import FakeStripe
from tests.fakes.stripe_wire import parse_params

KEY = "sk_test_PrismFake0000000000000000"
SECRET = "whsec_test_prism"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        monkeypatch.setattr(stripe, "api_base", server.url)
        monkeypatch.setattr(stripe, "api_key", KEY)
        monkeypatch.setattr(stripe, "max_network_retries", 0)
        yield server


@pytest.fixture
def catalog(fake: FakeStripe) -> dict[str, Any]:
    product = stripe.Product.create(name="Prism Pro", metadata={"plan": "pro"})
    monthly = stripe.Price.create(
        product=product.id,
        unit_amount=1500,
        currency="usd",
        recurring={"interval": "month"},
        lookup_key="pro_monthly",
        nickname="Pro monthly",
        metadata={"plan": "pro"},
    )
    yearly = stripe.Price.create(
        product=product.id,
        unit_amount=15000,
        currency="usd",
        recurring={"interval": "year"},
        lookup_key="pro_yearly",
    )
    return {"product": product, "monthly": monthly, "yearly": yearly}


def checkout(price_id: str, **extra: Any) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": "http://testserver/billing/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://testserver/billing/",
        "customer_email": "owner@example.com",
    }
    return stripe.checkout.Session.create(**(params | extra))


def subscribe(fake: FakeStripe, price_id: str) -> stripe.Subscription:
    session = checkout(price_id)
    fake.complete_checkout(session.id)
    return stripe.Subscription.retrieve(stripe.checkout.Session.retrieve(session.id).subscription)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


# -- wire format ---------------------------------------------------------------------------------------


def test_it_decodes_stripes_bracket_notation() -> None:
    pairs = [
        ("line_items[0][price]", "price_a"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_b"),
        ("expand[]", "customer"),
        ("expand[]", "subscription"),
        ("subscription_data[metadata][user]", "7"),
    ]
    assert parse_params(pairs) == {
        "line_items": [{"price": "price_a", "quantity": "2"}, {"price": "price_b"}],
        "expand": ["customer", "subscription"],
        "subscription_data": {"metadata": {"user": "7"}},
    }


def test_it_refuses_a_request_without_a_test_secret_key(fake: FakeStripe) -> None:
    with pytest.raises(stripe.AuthenticationError):
        stripe.Product.list(api_key="sk_live_NotATestKey000000000000000")
    with pytest.raises(stripe.AuthenticationError):
        stripe.Product.list(api_key="sk_test_prism_placeholder")  # dj-stripe refuses this shape too
    request = urllib.request.Request(fake.url + "/v1/products")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["error"]["type"] == "invalid_request_error"


def test_a_missing_object_answers_stripes_error_envelope(fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Price.retrieve("price_nothere")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.param == "id"
    assert missing.value.json_body["error"]["message"] == "No such price: 'price_nothere'"
    assert missing.value.json_body["error"]["type"] == "invalid_request_error"


def test_a_missing_required_param_is_a_400(fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe.Price.create(currency="usd", unit_amount=100)
    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        "parameter_missing",
        "product",
    )


def test_it_replays_a_request_sent_again_with_the_same_idempotency_key(fake: FakeStripe) -> None:
    first = stripe.Customer.create(email="a@example.com", idempotency_key="signup-1")
    again = stripe.Customer.create(email="a@example.com", idempotency_key="signup-1")
    assert again.id == first.id
    assert len(stripe.Customer.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        stripe.Customer.create(email="b@example.com", idempotency_key="signup-1")


def test_lists_page_newest_first_with_starting_after(fake: FakeStripe) -> None:
    created = [stripe.Product.create(name=f"Product {n}").id for n in range(12)]
    first_page = stripe.Product.list(limit=5)
    assert first_page.has_more is True
    assert [p.id for p in first_page.data] == created[::-1][:5]
    assert [p.id for p in stripe.Product.list(limit=5).auto_paging_iter()] == created[::-1]


# -- products and prices -------------------------------------------------------------------------------


def test_it_creates_prices_and_finds_them_by_lookup_key(catalog: dict[str, Any]) -> None:
    monthly = catalog["monthly"]
    assert (monthly.unit_amount, monthly.currency, monthly.type) == (1500, "usd", "recurring")
    assert monthly.recurring.interval == "month"
    assert monthly.product == catalog["product"].id
    found = stripe.Price.list(lookup_keys=["pro_monthly", "pro_yearly"], active=True, expand=["data.product"])
    assert {p.lookup_key for p in found.data} == {"pro_monthly", "pro_yearly"}
    assert {p.product.name for p in found.data} == {"Prism Pro"}
    assert [p.id for p in stripe.Price.list(type="recurring", recurring={"interval": "year"}).data] == [
        catalog["yearly"].id
    ]


def test_a_lookup_key_moves_only_when_transferred(catalog: dict[str, Any]) -> None:
    product = catalog["product"].id
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        stripe.Price.create(product=product, unit_amount=1, currency="usd", lookup_key="pro_monthly")
    moved = stripe.Price.create(
        product=product,
        unit_amount=1800,
        currency="usd",
        recurring={"interval": "month"},
        lookup_key="pro_monthly",
        transfer_lookup_key=True,
    )
    assert [p.id for p in stripe.Price.list(lookup_keys=["pro_monthly"]).data] == [moved.id]
    assert stripe.Price.retrieve(catalog["monthly"].id).lookup_key is None


def test_updating_a_price_records_the_previous_attributes(fake: FakeStripe, catalog: dict[str, Any]) -> None:
    stripe.Price.modify(catalog["monthly"].id, active=False, metadata={"plan": ""})
    event = fake.events_of_type("price.updated")[-1]
    assert event["data"]["object"]["active"] is False
    assert event["data"]["previous_attributes"] == {"active": True, "metadata": {"plan": "pro"}}
    assert stripe.Price.list(active=True, lookup_keys=["pro_monthly"]).data == []


# -- customers -----------------------------------------------------------------------------------------


def test_customers_are_listed_by_email_and_deleted(fake: FakeStripe) -> None:
    kept = stripe.Customer.create(email="owner@example.com", metadata={"user_id": "1"})
    gone = stripe.Customer.create(email="stranger@example.com")
    assert [c.id for c in stripe.Customer.list(email="owner@example.com").data] == [kept.id]
    assert stripe.Customer.delete(gone.id).deleted is True
    assert stripe.Customer.retrieve(gone.id).deleted is True
    assert types(fake.events) == ["customer.created", "customer.created", "customer.deleted"]


# -- Checkout and subscriptions ------------------------------------------------------------------------


def test_completing_checkout_creates_a_paid_subscription_on_the_price(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    session = checkout(
        catalog["monthly"].id,
        client_reference_id="user-7",
        metadata={"user_id": "7"},
        subscription_data={"metadata": {"user_id": "7"}},
    )
    assert session.url == f"{fake.url}/checkout/{session.id}"
    assert (session.status, session.payment_status, session.subscription) == ("open", "unpaid", None)

    events = fake.complete_checkout(session.id)

    assert types(events)[-1] == "checkout.session.completed"
    assert {"customer.created", "customer.subscription.created", "invoice.paid"} <= set(types(events))
    done = stripe.checkout.Session.retrieve(session.id, expand=["subscription", "line_items"])
    assert (done.status, done.payment_status, done.client_reference_id) == ("complete", "paid", "user-7")
    assert done.line_items.data[0].price.id == catalog["monthly"].id
    sub = done.subscription
    assert sub.status == "active"
    assert sub.customer == done.customer
    assert sub.metadata.to_dict() == {"user_id": "7"}
    item = sub["items"].data[0]
    assert (item.price.id, item.price.lookup_key, item.quantity) == (catalog["monthly"].id, "pro_monthly", 1)
    assert item.current_period_end > item.current_period_start
    assert sub.current_period_end == item.current_period_end  # legacy copy that dj-stripe 2.11 reads
    assert stripe.Customer.retrieve(sub.customer).email == "owner@example.com"
    invoice = stripe.Invoice.retrieve(sub.latest_invoice)
    assert (invoice.status, invoice.amount_paid, invoice.billing_reason) == (
        "paid",
        1500,
        "subscription_create",
    )
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.lines.data[0].pricing.price_details.price == catalog["monthly"].id


def test_a_failed_checkout_payment_leaves_the_subscription_incomplete(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    session = checkout(catalog["monthly"].id)
    events = fake.complete_checkout(session.id, payment_succeeds=False)
    assert "invoice.payment_failed" in types(events)
    assert types(events)[-2:] == ["checkout.session.completed", "checkout.session.async_payment_failed"]
    done = stripe.checkout.Session.retrieve(session.id, expand=["subscription.latest_invoice"])
    assert done.payment_status == "unpaid"
    assert done.subscription.status == "incomplete"
    assert done.subscription.latest_invoice.status == "open"
    assert [e["type"] for e in fake.advance_time(24 * 3600)][-1] == "customer.subscription.updated"
    assert stripe.Subscription.retrieve(done.subscription.id).status == "incomplete_expired"


def test_checkout_refuses_what_stripe_refuses(fake: FakeStripe, catalog: dict[str, Any]) -> None:
    customer = stripe.Customer.create(email="owner@example.com")
    with pytest.raises(stripe.InvalidRequestError, match="only specify one"):
        checkout(catalog["monthly"].id, customer=customer.id)
    one_time = stripe.Price.create(product=catalog["product"].id, unit_amount=500, currency="usd")
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        checkout(one_time.id)


def test_the_checkout_page_pays_and_redirects_to_the_success_url(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    session = checkout(catalog["monthly"].id)
    with urllib.request.urlopen(session.url, timeout=5) as page:
        assert b'id="pay"' in page.read()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(urllib.request.Request(session.url, data=b"outcome=pay", method="POST"), timeout=5)
    assert redirect.value.code == 303
    assert redirect.value.headers["Location"] == f"http://testserver/billing/done?session={session.id}"
    assert stripe.checkout.Session.retrieve(session.id).status == "complete"


def test_the_billing_portal_session_points_at_the_fake(fake: FakeStripe) -> None:
    customer = stripe.Customer.create(email="owner@example.com")
    portal = stripe.billing_portal.Session.create(
        customer=customer.id, return_url="http://testserver/billing/"
    )
    assert portal.url == f"{fake.url}/portal/{portal.id}"
    assert portal.customer == customer.id
    with pytest.raises(stripe.InvalidRequestError):
        stripe.billing_portal.Session.create(customer="cus_nothere")


def test_changing_the_price_updates_the_item_and_records_what_it_was(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    sub = subscribe(fake, catalog["monthly"].id)
    item = sub["items"].data[0]
    changed = stripe.Subscription.modify(sub.id, items=[{"id": item.id, "price": catalog["yearly"].id}])
    assert [(i.id, i.price.id) for i in changed["items"].data] == [(item.id, catalog["yearly"].id)]
    event = [e for e in fake.events if e["type"] == "customer.subscription.updated"][-1]
    previous_items = event["data"]["previous_attributes"]["items"]["data"]
    assert previous_items[0]["price"]["id"] == catalog["monthly"].id


def test_an_interval_change_is_previewed_then_invoiced_with_the_same_prorations(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    sub = subscribe(fake, catalog["monthly"].id)
    item = sub["items"].data[0]
    at = item.current_period_start + (item.current_period_end - item.current_period_start) // 4
    details = {
        "items": [{"id": item.id, "price": catalog["yearly"].id}],
        "proration_behavior": "always_invoice",
        "proration_date": at,
    }
    preview = stripe.Invoice.create_preview(
        customer=sub.customer, subscription=sub.id, subscription_details=details
    )
    monthly, yearly = catalog["monthly"].unit_amount, catalog["yearly"].unit_amount
    credit = round(monthly * 3 / 4)
    assert [line.amount for line in preview.lines.data] == [-credit, yearly]
    assert preview.amount_due == yearly - credit
    assert len(fake.all_of("invoice")) == 1  # a preview makes nothing

    changed = stripe.Subscription.modify(
        sub.id, items=details["items"], proration_behavior="always_invoice", proration_date=at
    )
    invoice = stripe.Invoice.retrieve(changed.latest_invoice)
    assert (invoice.amount_due, invoice.status, invoice.billing_reason) == (
        preview.amount_due,
        "paid",
        "subscription_update",
    )
    period = changed["items"].data[0]
    assert (period.current_period_start, period.current_period_end - at > 360 * 86400) == (at, True)


def test_cancel_at_period_end_cancels_when_the_period_ends(fake: FakeStripe, catalog: dict[str, Any]) -> None:
    sub = subscribe(fake, catalog["monthly"].id)
    stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    update = fake.events[-1]
    assert update["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert stripe.Subscription.retrieve(sub.id).status == "active"
    events = fake.advance_time(32 * 86400)
    assert types(events) == ["customer.subscription.deleted"]
    assert stripe.Subscription.retrieve(sub.id).status == "canceled"
    assert stripe.Subscription.list(customer=sub.customer).data == []
    assert [s.id for s in stripe.Subscription.list(customer=sub.customer, status="all").data] == [sub.id]


def test_deleting_a_subscription_cancels_it_at_once(fake: FakeStripe, catalog: dict[str, Any]) -> None:
    sub = subscribe(fake, catalog["monthly"].id)
    canceled = stripe.Subscription.cancel(sub.id)
    assert (canceled.status, canceled.ended_at is not None) == ("canceled", True)
    assert fake.events[-1]["type"] == "customer.subscription.deleted"
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Subscription.modify(sub.id, cancel_at_period_end=True)


def test_a_failed_renewal_makes_the_subscription_past_due_until_paid(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    sub = subscribe(fake, catalog["monthly"].id)
    fake.fail_next_invoice(sub.id)
    events = fake.renew(sub.id)
    assert "invoice.payment_failed" in types(events)
    renewed = stripe.Subscription.retrieve(sub.id, expand=["latest_invoice"])
    assert renewed.status == "past_due"
    assert renewed.latest_invoice.billing_reason == "subscription_cycle"
    assert renewed.latest_invoice.status == "open"
    assert renewed["items"].data[0].current_period_start == sub["items"].data[0].current_period_end
    assert types(fake.pay_invoice(renewed.latest_invoice.id))[-1] == "customer.subscription.updated"
    assert stripe.Subscription.retrieve(sub.id).status == "active"
    invoices = stripe.Invoice.list(subscription=sub.id).data
    assert [(i.billing_reason, i.status) for i in invoices] == [
        ("subscription_cycle", "paid"),
        ("subscription_create", "paid"),
    ]


def test_a_subscription_created_through_the_api_charges_the_test_card(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    customer = stripe.Customer.create(email="owner@example.com")
    paid = stripe.Subscription.create(
        customer=customer.id,
        items=[{"price": catalog["monthly"].id}],
        default_payment_method="pm_card_visa",
        expand=["latest_invoice"],
    )
    assert (paid.status, paid.latest_invoice.status) == ("active", "paid")
    declined = stripe.Subscription.create(
        customer=customer.id,
        items=[{"price": catalog["monthly"].id}],
        default_payment_method="pm_card_chargeDeclined",
    )
    assert declined.status == "incomplete"
    assert [s.id for s in stripe.Subscription.list(customer=customer.id, status="active").data] == [paid.id]


def test_without_legacy_fields_it_answers_exactly_this_api_versions_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeStripe(legacy_fields=False) as strict:
        monkeypatch.setattr(stripe, "api_base", strict.url)
        monkeypatch.setattr(stripe, "api_key", KEY)
        product = stripe.Product.create(name="Strict")
        price = stripe.Price.create(
            product=product.id, unit_amount=100, currency="usd", recurring={"interval": "month"}
        )
        session = stripe.checkout.Session.create(
            mode="subscription", line_items=[{"price": price.id, "quantity": 1}]
        )
        strict.complete_checkout(session.id)
        sub_id = stripe.checkout.Session.retrieve(session.id).subscription
        sub = stripe.Subscription.retrieve(sub_id, expand=["latest_invoice"])
    assert "current_period_end" not in sub
    assert "current_period_end" in sub["items"].data[0]
    assert "subscription" not in sub.latest_invoice
    assert "paid" not in sub.latest_invoice


# -- events and webhooks -------------------------------------------------------------------------------


def test_events_are_retrievable_and_listed_by_type(fake: FakeStripe, catalog: dict[str, Any]) -> None:
    sub = subscribe(fake, catalog["monthly"].id)
    created = stripe.Event.list(type="customer.subscription.created").data
    assert [e.data.object.id for e in created] == [sub.id]
    assert stripe.Event.retrieve(created[0].id).type == "customer.subscription.created"
    invoice_events = stripe.Event.list(types=["invoice.*"], limit=100).data
    assert {e.type for e in invoice_events} == {
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    }


def test_a_signed_webhook_verifies_with_stripes_own_check_and_not_with_another_secret(
    fake: FakeStripe, catalog: dict[str, Any]
) -> None:
    subscribe(fake, catalog["monthly"].id)
    event = fake.events_of_type("checkout.session.completed")[0]
    body, headers = fake.signed_webhook(event, SECRET)
    verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)
    assert (verified.id, verified.type) == (event["id"], "checkout.session.completed")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_someone_else")


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that checks signatures the way dj-stripe does."""

    received: list[str] = []  # reset by the receiver fixture

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = stripe.Webhook.construct_event(body, self.headers["Stripe-Signature"], SECRET)
        except stripe.SignatureVerificationError:
            self.send_response(400)
        else:
            self.received.append(event.type)
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook/"
    server.shutdown()
    server.server_close()


def test_deliver_posts_signed_events_and_deliver_pending_skips_delivered_ones(
    fake: FakeStripe, catalog: dict[str, Any], receiver: str
) -> None:
    session = checkout(catalog["monthly"].id)
    first = fake.complete_checkout(session.id)
    assert fake.deliver(first[0], receiver, "whsec_wrong")[0] == 400
    assert fake.deliver(first[0], receiver, SECRET)[0] == 200
    results = fake.deliver_pending(receiver, SECRET)
    assert [status for _, _, status in results] == [200] * (len(fake.events) - 1)
    assert Receiver.received == [first[0]["type"]] + [e["type"] for e in fake.events if e is not first[0]]
    assert fake.deliver_pending(receiver, SECRET) == []


def test_webhook_endpoints_created_through_the_api_receive_pending_events(
    fake: FakeStripe, catalog: dict[str, Any], receiver: str
) -> None:
    endpoint = stripe.WebhookEndpoint.create(url=receiver, enabled_events=["customer.subscription.created"])
    assert endpoint.secret.startswith("whsec_")
    assert "secret" not in stripe.WebhookEndpoint.retrieve(endpoint.id)
    fake.objects[endpoint.id]["_secret"] = SECRET  # the receiver was started with a fixed secret
    subscribe(fake, catalog["monthly"].id)
    assert [(t, status) for t, _, status in fake.deliver_pending()] == [
        ("customer.subscription.created", 200)
    ]
    assert stripe.WebhookEndpoint.delete(endpoint.id).deleted is True


def test_the_account_is_retrievable(fake: FakeStripe) -> None:
    account = stripe.Account.retrieve()
    assert account.id.startswith("acct_")
    assert account.charges_enabled is True
