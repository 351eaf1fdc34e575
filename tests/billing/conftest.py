"""Fixtures for billing: the fake Stripe on loopback, the catalog from billing_sync, a webhook endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import stripe
from django.core.management import call_command
from django.test import Client
from djstripe.models import WebhookEndpoint
from djstripe.settings import djstripe_settings

from accounts.models import User
from billing.models import Subscription
from tests.fakes.stripe_api import FakeStripe


@pytest.fixture(scope="session")
def _fake_stripe_server() -> Iterator[FakeStripe]:
    # Strict shapes of the API version stripe-python 15 pins: our code must not need the legacy fields.
    with FakeStripe(legacy_fields=False) as server:
        yield server


TEST_SECRET_KEY = "sk_test_" + "prismTestsAgainstTheFake0001"


@pytest.fixture(autouse=True)
def _tasks_run_in_process() -> Iterator[None]:
    """Billing's tasks run in the test's process when queued (as a worker would run them: retries too),
    so no message is left in the shared Redis broker."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def fake_stripe(
    _fake_stripe_server: FakeStripe, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> FakeStripe:
    """The fake Stripe, emptied, with stripe-python (ours and dj-stripe's) pointed at it and a test key
    set (without one, billing is off and never calls Stripe)."""
    settings.STRIPE_TEST_SECRET_KEY = TEST_SECRET_KEY
    _fake_stripe_server.reset()
    _fake_stripe_server.api_key = None
    monkeypatch.setattr(stripe, "api_base", _fake_stripe_server.url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    monkeypatch.setattr(stripe, "api_key", djstripe_settings.STRIPE_SECRET_KEY)  # for the tests' own calls
    return _fake_stripe_server


@pytest.fixture
def catalog(fake_stripe: FakeStripe, db: None) -> None:
    call_command("billing_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115


@dataclass
class Endpoint:
    url: str
    secret: str


@pytest.fixture
def webhook_endpoint(fake_stripe: FakeStripe, db: None) -> Endpoint:
    """A djstripe WebhookEndpoint created in (fake) Stripe, as an operator would register it."""
    endpoint_uuid = uuid.uuid4()
    path = f"/stripe/webhook/{endpoint_uuid}/"
    data = WebhookEndpoint._api_create(
        url=f"http://testserver{path}",
        enabled_events=["*"],
        metadata={"djstripe_uuid": str(endpoint_uuid)},
        api_version=djstripe_settings.STRIPE_API_VERSION,
    )
    WebhookEndpoint.sync_from_stripe_data(data)
    return Endpoint(path, fake_stripe.webhook_secret(data["id"]))


def post_event(client: Client, endpoint: Endpoint, event: dict[str, Any], secret: str | None = None) -> int:
    body, headers = FakeStripe.signed_webhook(event, secret or endpoint.secret)
    response = client.post(
        endpoint.url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"]
    )
    return response.status_code


def subscribe(fake: FakeStripe, user: User, plan: str = "PRO", interval: str = "month") -> str:
    """Act out Checkout as our view starts it; return the new Stripe subscription id."""
    from billing.actions import start_checkout

    url = start_checkout(user, plan, interval, "http://testserver/ok", "http://testserver/back")
    session_id = url.rstrip("/").rsplit("/", 1)[-1]
    fake.complete_checkout(session_id)
    return str(fake.objects[session_id]["subscription"])


def row(user: User) -> Subscription:
    return Subscription.objects.get(user=user)
