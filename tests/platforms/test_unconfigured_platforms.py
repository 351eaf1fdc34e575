"""A platform without an OAuth app on this server (its client id empty, as in .env.example) is
"not set up on this server": never a Connect button that ends in a 500, never a 500 on allauth's
login or callback URL, for creators or anonymous visitors."""

from __future__ import annotations

import copy

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PROVIDERS = ["google", "twitch", "facebook"]


@pytest.fixture(autouse=True)
def no_oauth_apps(settings) -> None:
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    for provider in PROVIDERS:
        providers[provider]["APPS"] = []
    settings.SOCIALACCOUNT_PROVIDERS = providers


def with_only_twitch(settings) -> None:
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["twitch"]["APPS"] = [{"client_id": "twitch-id", "secret": "twitch-secret"}]
    settings.SOCIALACCOUNT_PROVIDERS = providers


def test_the_destinations_page_offers_only_configured_platforms(settings, owner: User) -> None:
    with_only_twitch(settings)
    client = Client(raise_request_exception=False)
    client.force_login(owner)

    html = client.get("/destinations/").content.decode()

    assert "Connect Twitch" in html
    assert "Connect YouTube" not in html
    assert "Connect Facebook" not in html
    assert "YouTube: not set up on this server." in html
    assert "Facebook: not set up on this server." in html
    assert "GOOGLE_CLIENT_ID" not in html  # creators are not told about server variables


def test_staff_see_which_variables_to_set(settings) -> None:
    client = Client()
    client.force_login(make_user("staff@example.com", is_staff=True))

    html = client.get("/destinations/").content.decode()

    assert "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET" in html
    assert "FACEBOOK_CLIENT_ID and FACEBOOK_CLIENT_SECRET" in html


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("signed_in", [True, False], ids=["creator", "anonymous"])
def test_connect_login_and_callback_say_not_set_up_instead_of_500(
    owner: User, provider: str, signed_in: bool
) -> None:
    client = Client(raise_request_exception=False)
    if signed_in:
        client.force_login(owner)

    answers = [
        client.post(f"/accounts/{provider}/login/?process=connect", {"process": "connect"}),
        client.get(f"/accounts/{provider}/login/"),
        client.get(f"/accounts/{provider}/login/callback/?code=x&state=y"),
    ]

    for answer in answers:
        assert answer.status_code == 404, answer.status_code
        assert "not set up on this server" in answer.content.decode()
