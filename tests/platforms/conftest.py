"""Platform fakes on loopback, with allauth and our HTTP seams pointed at them through settings."""

from __future__ import annotations

import copy
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import Client

from tests.fakes import facebook_api, google_api, twitch_api
from tests.fakes.platform_apis import PlatformFakes, running_platform_fakes


@pytest.fixture(scope="session")
def fakes() -> Iterator[PlatformFakes]:
    with running_platform_fakes() as started:
        yield started


@pytest.fixture
def platforms(settings: Any, fakes: PlatformFakes) -> PlatformFakes:
    for fake in (fakes.google, fakes.twitch, fakes.facebook):
        fake.reset()
    settings.GOOGLE_ACCOUNTS_BASE = settings.GOOGLE_OAUTH_BASE = settings.GOOGLE_API_BASE = fakes.google.url
    settings.YOUTUBE_API_BASE = fakes.google.youtube_url
    settings.TWITCH_ID_BASE = fakes.twitch.url
    settings.TWITCH_API_BASE = fakes.twitch.helix_url
    settings.TWITCH_INGEST_URL = fakes.twitch.ingests_url
    settings.FACEBOOK_DIALOG_BASE = settings.FACEBOOK_GRAPH_BASE = fakes.facebook.graph_url
    settings.PLATFORM_HTTP_TIMEOUT = 5
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["google"]["APPS"] = [{"client_id": google_api.CLIENT_ID, "secret": google_api.CLIENT_SECRET}]
    providers["twitch"]["APPS"] = [{"client_id": twitch_api.CLIENT_ID, "secret": twitch_api.CLIENT_SECRET}]
    providers["facebook"]["APPS"] = [{"client_id": facebook_api.APP_ID, "secret": facebook_api.APP_SECRET}]
    settings.SOCIALACCOUNT_PROVIDERS = providers
    return fakes


def connect(client: Client, provider: str, fake_url: str) -> Any:
    """POST allauth's login view with process=connect, pass the fake's consent screen, GET the callback."""
    start = client.post(f"/accounts/{provider}/login/", {"process": "connect"})
    assert start.status_code == 302, start.content
    assert start["Location"].startswith(fake_url), start["Location"]
    consent = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text
    callback = urllib.parse.urlsplit(consent.headers["Location"])
    assert callback.path == f"/accounts/{provider}/login/callback/"
    return client.get(f"{callback.path}?{callback.query}")
