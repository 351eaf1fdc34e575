"""nginx-rtmp's callbacks under the documented production host settings (.env.example):
they name 127.0.0.1 as their host, which the public site's ALLOWED_HOSTS refuses."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from platforms.models import PlatformConnection
from streaming.models import IngestKey, StreamSession
from tests.streaming.test_callbacks import publish_form

CALLBACK_HOST = "127.0.0.1:8000"  # the host of RTMP_CALLBACK_BASE's default


@pytest.fixture(autouse=True)
def production_hosts(settings) -> None:
    settings.ALLOWED_HOSTS = ["prism.example.com"]
    settings.SITE_URL = "https://prism.example.com"
    settings.RTMP_CALLBACK_BASE = f"http://{CALLBACK_HOST}"


@pytest.fixture
def keyed(owner: User) -> str:
    PlatformConnection.objects.create(
        user=owner, kind="CUSTOM", name="d", rtmp_url="rtmp://127.0.0.1:1/app", stream_key="k0"
    )
    return IngestKey.regenerate(owner).key


def test_on_publish_from_the_ingest_is_accepted_though_it_names_the_callback_host(
    client: Client, keyed: str
) -> None:
    response = client.post("/rtmp/on_publish/?node=n1", publish_form(keyed), HTTP_HOST=CALLBACK_HOST)

    assert response.status_code == 302
    assert StreamSession.objects.filter(stream_name=response["Location"]).exists()


def test_on_update_keeps_readers_of_an_open_session(client: Client, keyed: str) -> None:
    name = client.post("/rtmp/on_publish/?node=n1", publish_form(keyed), HTTP_HOST=CALLBACK_HOST)["Location"]

    update = {**publish_form(name), "call": "update_play"}
    assert client.post("/rtmp/on_update/?node=n1", update, HTTP_HOST=CALLBACK_HOST).status_code == 200
    publisher = {**publish_form(keyed), "call": "update_publish"}
    assert client.post("/rtmp/on_update/?node=n1", publisher, HTTP_HOST=CALLBACK_HOST).status_code == 200


@pytest.mark.django_db
def test_the_public_site_still_refuses_the_callback_host(client: Client) -> None:
    assert client.get("/", HTTP_HOST=CALLBACK_HOST).status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST=CALLBACK_HOST).status_code == 400


def test_a_callback_from_outside_the_allowed_networks_gets_no_host_exemption(
    client: Client, keyed: str
) -> None:
    response = client.post(
        "/rtmp/on_publish/?node=n1", publish_form(keyed), HTTP_HOST=CALLBACK_HOST, REMOTE_ADDR="203.0.113.9"
    )

    assert response.status_code == 400
    assert not StreamSession.objects.exists()


def test_start_up_stops_when_site_url_names_a_host_allowed_hosts_refuses() -> None:
    from tests.test_settings import PRODUCTION_ENV, run_django

    refused = run_django(["check"], {**PRODUCTION_ENV, "SITE_URL": "https://elsewhere.example.org"})
    allowed = run_django(["check"], PRODUCTION_ENV)

    assert refused.returncode != 0
    assert "prism.E010" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
