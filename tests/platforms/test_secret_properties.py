"""Property 1 (keys and tokens never in plain text, never in a response, log or the admin) and
property 4 (disconnect removes the row and its secrets together, or nothing at all)."""

from __future__ import annotations

import json
import logging

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import DatabaseError, transaction
from django.db import connection as db
from django.test import Client, TestCase, override_settings
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts.models import User
from platforms.actions import disconnect
from platforms.models import PlatformConnection
from tests.conftest import make_user
from tests.fakes.platform_apis import PlatformFakes
from tests.platforms.conftest import connect

pytestmark = pytest.mark.django_db
SECRET_COLUMNS = ("stream_key", "access_token", "refresh_token")
secrets_ = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=16, max_size=60
)
fast = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def raw_row(pk: int) -> tuple[str, ...] | None:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT stream_key, access_token, refresh_token FROM platforms_platformconnection WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def everything_rendered(client: Client, admin: Client, pk: int) -> str:
    bodies = [
        client.get("/destinations/"),
        client.get("/api/destinations/"),
        client.get(f"/destinations/{pk}/disconnect"),
        admin.get("/admin/platforms/platformconnection/"),
        admin.get(f"/admin/platforms/platformconnection/{pk}/change/"),
    ]
    assert all(b.status_code == 200 for b in bodies)
    return "".join(b.content.decode() for b in bodies)


def pages_without_secrets(admin: Client) -> str:
    """The same pages for another creator's destination with other secrets: what they say anyway."""
    client = Client()
    client.force_login(make_user())
    created = client.post(
        "/api/destinations/",
        json.dumps({"name": "S", "rtmp_url": "rtmp://x.example.com/app", "stream_key": "k" * 16}),
        content_type="application/json",
    )
    return created.content.decode() + everything_rendered(client, admin, created.json()["destination"]["id"])


@fast
@given(key=secrets_, access=secrets_, refresh=secrets_)
def test_random_keys_and_tokens_are_stored_encrypted_and_never_shown_or_logged(
    key: str, access: str, refresh: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    owner = make_user()
    admin = Client()
    admin.force_login(make_user(is_staff=True, is_superuser=True))
    # Hypothesis also tries words from our own code ("subscriptionchan"): a secret that the pages
    # say anyway proves nothing either way.
    anyway = pages_without_secrets(admin)
    assume(all(secret not in anyway for secret in (key, access, refresh)))
    client = Client()
    client.force_login(owner)
    with caplog.at_level(logging.DEBUG):
        created = client.post(
            "/api/destinations/",
            json.dumps({"name": "S", "rtmp_url": "rtmp://x.example.com/app", "stream_key": key}),
            content_type="application/json",
        )
        pk = created.json()["destination"]["id"]
        connection = PlatformConnection.objects.get(pk=pk)
        connection.store_tokens(access, refresh, None)
        shown = created.content.decode() + everything_rendered(client, admin, pk)
        invalid = client.post(
            "/api/destinations/",
            json.dumps({"name": "S", "rtmp_url": f"ftp://x/app/{key}"}),
            content_type="application/json",
        )
        shown += invalid.content.decode()

    stored = raw_row(pk)
    assert stored is not None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (key, access, refresh):
        assert all(secret not in column for column in stored)
        assert secret not in shown
        assert secret not in logged
    assert PlatformConnection.objects.get(pk=pk).stream_key == key


def test_tokens_from_a_real_connect_flow_never_reach_a_page_the_logs_or_allauths_tables(
    client: Client, owner: User, platforms: PlatformFakes, caplog: pytest.LogCaptureFixture
) -> None:
    admin = Client()
    admin.force_login(make_user(is_staff=True, is_superuser=True))
    client.force_login(owner)
    with caplog.at_level(logging.DEBUG):
        first = connect(client, "twitch", platforms.twitch.url)
        connection = PlatformConnection.objects.get(kind="TWITCH")
        shown = first.content.decode() + everything_rendered(client, admin, connection.pk)
        shown += admin.get("/admin/socialaccount/socialaccount/").content.decode()
    secrets_seen = [connection.access_token, connection.refresh_token, connection.stream_key]
    with db.cursor() as cursor:
        cursor.execute("SELECT extra_data::text FROM socialaccount_socialaccount")
        allauth_rows = " ".join(r[0] for r in cursor.fetchall())
        cursor.execute("SELECT count(*) FROM socialaccount_socialtoken")
        assert cursor.fetchone()[0] == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_seen:
        assert secret
        assert secret not in shown
        assert secret not in logged
        assert secret not in allauth_rows
        assert all(secret not in column for column in raw_row(connection.pk) or ())


FAIL_ON = st.sampled_from(["nothing", "row", "social_account", "revoke"])


@fast
@given(fail_on=FAIL_ON, key=secrets_)
def test_disconnect_under_random_failures_leaves_everything_or_nothing(
    fail_on: str, key: str, platforms: PlatformFakes
) -> None:
    owner = make_user()
    connection = PlatformConnection.objects.create(
        user=owner,
        kind="TWITCH",
        name="T",
        rtmp_url="rtmp://x/app",
        stream_key=key,
        access_token=key + "a",
        refresh_token=key + "r",
    )
    SocialAccount.objects.create(user=owner, provider="twitch", uid=key)
    table = {"row": "platforms_platformconnection", "social_account": "socialaccount_socialaccount"}.get(
        fail_on
    )
    with db.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS refuse_delete ON platforms_platformconnection")
        cursor.execute("DROP TRIGGER IF EXISTS refuse_delete ON socialaccount_socialaccount")
        cursor.execute(
            "CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"
        )
        if table:
            cursor.execute(
                f"CREATE TRIGGER refuse_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_delete()"
            )
    # A revoke that cannot reach Twitch (nothing listens on port 9) must not undo the disconnect.
    twitch_id = "http://127.0.0.1:9" if fail_on == "revoke" else platforms.twitch.url

    try:
        with (
            override_settings(TWITCH_ID_BASE=twitch_id),
            TestCase.captureOnCommitCallbacks(execute=True),
            transaction.atomic(),
        ):
            disconnect(owner.pk, connection.pk)
    except DatabaseError:
        assert table is not None
    with db.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS refuse_delete ON platforms_platformconnection")
        cursor.execute("DROP TRIGGER IF EXISTS refuse_delete ON socialaccount_socialaccount")

    row = raw_row(connection.pk)
    social = SocialAccount.objects.filter(user=owner, provider="twitch").exists()
    if table:
        assert row is not None
        assert social
        assert PlatformConnection.objects.get(pk=connection.pk).stream_key == key
    else:
        assert row is None
        assert not social
