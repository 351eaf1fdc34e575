"""The Destinations page and JSON API: custom servers, plan limits, toggling, disconnecting, strangers."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import User
from platforms.actions import add_custom_destination
from platforms.models import PlatformConnection

pytestmark = pytest.mark.django_db
KEY = "live_123456789_SecretKeyAbCdEf"


@pytest.fixture
def creator(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


def api(client: Client, method: str, path: str, body: object | None = None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(path, json.dumps(body or {}), content_type="application/json")


def test_a_custom_server_is_added_with_its_key_masked(creator: Client, owner: User) -> None:
    response = creator.post(
        "/destinations/",
        {"name": "My server", "rtmp_url": "rtmps://live.example.com:443/app", "stream_key": KEY},
    )

    assert response.status_code == 302
    connection = PlatformConnection.objects.get(user=owner)
    assert (connection.rtmp_url, connection.stream_key) == ("rtmps://live.example.com:443/app", KEY)
    page = creator.get("/destinations/").content.decode()
    assert "My server" in page
    assert "••••CdEf" in page
    assert KEY not in page


def test_a_url_ending_in_the_key_is_split_into_server_and_key(creator: Client, owner: User) -> None:
    creator.post("/destinations/", {"name": "S", "rtmp_url": f"rtmp://live.example.com/app/{KEY}"})

    connection = PlatformConnection.objects.get(user=owner)
    assert (connection.rtmp_url, connection.stream_key) == ("rtmp://live.example.com/app", KEY)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://live.example.com/app/{KEY}", "rtmp:// or rtmps://"),
        (f"rtmp://user:{KEY}@live.example.com/app", "no user name or password"),
        (f"rtmp:///app/{KEY}", "host name"),
    ],
)
def test_bad_server_addresses_are_refused_without_echoing_the_key(
    creator: Client, url: str, message: str
) -> None:
    response = creator.post("/destinations/", {"name": "S", "rtmp_url": url, "stream_key": ""})

    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert KEY not in body
    answer = api(creator, "post", "/api/destinations/", {"name": "S", "rtmp_url": url})
    assert answer.status_code == 400
    assert KEY not in answer.content.decode()
    assert not PlatformConnection.objects.exists()


def test_free_plan_saves_a_second_destination_switched_off_and_says_why(creator: Client, owner: User) -> None:
    add_custom_destination(owner.pk, "First", "rtmp://a.example.com/app", KEY, True)

    response = creator.post(
        "/destinations/",
        {
            "name": "Second",
            "rtmp_url": "rtmp://b.example.com/app",
            "stream_key": KEY,
            "include_in_stream": "on",
        },
        follow=True,
    )

    second = PlatformConnection.objects.get(name="Second")
    assert not second.include_in_stream
    assert "See plans" in response.content.decode()
    assert "1 destination at a time" in response.content.decode()


def test_switching_on_beyond_the_plan_is_refused_with_an_upgrade_prompt(creator: Client, owner: User) -> None:
    add_custom_destination(owner.pk, "First", "rtmp://a.example.com/app", KEY, True)
    second = add_custom_destination(owner.pk, "Second", "rtmp://b.example.com/app", KEY, False).connection

    page = creator.post(f"/destinations/{second.pk}/toggle", {"include": "1"}, follow=True)
    assert "See plans" in page.content.decode()
    answer = api(creator, "patch", f"/api/destinations/{second.pk}", {"include_in_stream": True})
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "plan_limit_destinations"
    assert answer.json()["error"]["upgrade_url"].endswith("/pricing/")
    second.refresh_from_db()
    assert not second.include_in_stream
    # Switching the first off makes room.
    first = PlatformConnection.objects.get(name="First")
    assert (
        api(creator, "patch", f"/api/destinations/{first.pk}", {"include_in_stream": False}).status_code
        == 200
    )
    assert (
        api(creator, "patch", f"/api/destinations/{second.pk}", {"include_in_stream": True}).status_code
        == 200
    )


def test_the_api_lists_adds_and_deletes_without_ever_showing_a_key(creator: Client, owner: User) -> None:
    created = api(
        creator,
        "post",
        "/api/destinations/",
        {"name": "S", "rtmp_url": "rtmp://x.example.com/app", "stream_key": KEY},
    )
    assert created.status_code == 201
    listed = creator.get("/api/destinations/")
    assert listed.json()["destinations"][0]["masked_key"] == "••••CdEf"
    assert KEY not in created.content.decode() + listed.content.decode()
    pk = created.json()["destination"]["id"]
    assert api(creator, "delete", f"/api/destinations/{pk}").status_code == 204
    assert not PlatformConnection.objects.exists()


def test_the_api_wants_a_session_and_a_csrf_token(owner: User) -> None:
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.get("/api/destinations/").status_code == 401
    anonymous.force_login(owner)
    assert api(anonymous, "post", "/api/destinations/", {"name": "S"}).status_code == 403


def test_strangers_cannot_see_toggle_or_delete_another_creators_destination(
    client: Client, owner: User, stranger: User
) -> None:
    mine = add_custom_destination(owner.pk, "Mine", "rtmp://a.example.com/app", KEY, True).connection
    client.force_login(stranger)

    assert "Mine" not in client.get("/destinations/").content.decode()
    assert client.post(f"/destinations/{mine.pk}/disconnect").status_code == 404
    assert api(client, "delete", f"/api/destinations/{mine.pk}").status_code == 404
    assert (
        api(client, "patch", f"/api/destinations/{mine.pk}", {"include_in_stream": False}).status_code == 404
    )
    assert PlatformConnection.objects.filter(pk=mine.pk, include_in_stream=True).exists()


def test_disconnect_asks_for_confirmation_first(creator: Client, owner: User) -> None:
    mine = add_custom_destination(owner.pk, "Mine", "rtmp://a.example.com/app", KEY, True).connection

    assert (
        "Disconnect Custom RTMP: Mine?" in creator.get(f"/destinations/{mine.pk}/disconnect").content.decode()
    )
    assert PlatformConnection.objects.exists()
    creator.post(f"/destinations/{mine.pk}/disconnect")
    assert not PlatformConnection.objects.exists()
