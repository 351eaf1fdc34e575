"""Every path that switches a destination on goes through the plan check: the studio's local test
destination, the Destinations page, the JSON API and the admin. On Free (one destination) a
second one switched on would have every publish refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from platforms.actions import add_custom_destination
from platforms.models import PlatformConnection
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
KEY = "live_123456789_SecretKeyAbCdEf"


def switched_on(user: User) -> int:
    return PlatformConnection.objects.filter(user=user, include_in_stream=True).count()


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff() -> Client:
    return logged_in(make_user("staff@example.com", is_staff=True, is_superuser=True))


def admin_form(owner: User, **fields: object) -> dict[str, object]:
    return {
        "user": owner.pk,
        "kind": "CUSTOM",
        "name": "From the admin",
        "account_id": "",
        "rtmp_url": "rtmp://c.example.com/app",
        "platform_stream_id": "",
        "state": "CONNECTED",
        "include_in_stream": "on",
        **fields,
    }


def via_studio(owner: User) -> None:
    page = logged_in(owner).post(reverse("studio:add_test_destination"), follow=True)
    assert "See plans" in page.content.decode()


def via_destinations_page(owner: User) -> None:
    logged_in(owner).post(
        "/destinations/",
        {"name": "S", "rtmp_url": "rtmp://b.example.com/app", "stream_key": KEY, "include_in_stream": "on"},
    )


def via_api(owner: User) -> None:
    body = {"name": "S", "rtmp_url": "rtmp://b.example.com/app", "stream_key": KEY, "include_in_stream": True}
    logged_in(owner).post("/api/destinations/", json.dumps(body), content_type="application/json")


def via_admin_add(owner: User) -> None:
    response = staff().post(reverse("admin:platforms_platformconnection_add"), admin_form(owner))
    assert response.status_code == 200  # the form again, with the plan's message
    assert "streams to 1 destination at a time" in response.content.decode()


def via_admin_change(owner: User) -> None:
    second = add_custom_destination(owner.pk, "Second", "rtmp://b.example.com/app", KEY, False).connection
    url = reverse("admin:platforms_platformconnection_change", args=[second.pk])
    response = staff().post(url, admin_form(owner, name="Second"))
    assert "streams to 1 destination at a time" in response.content.decode()


@pytest.mark.parametrize(
    "switch_on_a_second",
    [via_studio, via_destinations_page, via_api, via_admin_add, via_admin_change],
    ids=lambda f: f.__name__,
)
def test_free_never_gets_a_second_destination_switched_on(
    owner: User, switch_on_a_second: Callable[[User], None]
) -> None:
    add_custom_destination(owner.pk, "First", "rtmp://a.example.com/app", KEY, True)

    switch_on_a_second(owner)

    assert switched_on(owner) == 1


def test_adding_the_local_test_destination_twice_on_free_leaves_one_switched_on(owner: User) -> None:
    client = logged_in(owner)
    client.post(reverse("studio:add_test_destination"))
    client.post(reverse("studio:add_test_destination"))

    assert PlatformConnection.objects.filter(user=owner).count() == 2
    assert switched_on(owner) == 1


def test_the_admin_may_still_switch_on_within_the_plan(owner: User) -> None:
    second = add_custom_destination(owner.pk, "Second", "rtmp://b.example.com/app", KEY, False).connection
    url = reverse("admin:platforms_platformconnection_change", args=[second.pk])

    response = staff().post(url, admin_form(owner, name="Second"))

    assert response.status_code == 302
    second.refresh_from_db()
    assert second.include_in_stream
