"""Connecting YouTube, Twitch and Facebook through allauth, end to end against the local fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.test import Client
from django.utils import timezone

from accounts.models import User
from platforms.models import PlatformConnection
from platforms.targets import PlatformError, finish_target, prepare_target, viewer_count
from platforms.tasks import refresh_connection_token
from tests.fakes.platform_apis import PlatformFakes
from tests.platforms.conftest import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


def test_connecting_twitch_fetches_the_key_and_rtmp_ingest_and_keeps_tokens_only_encrypted(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    done = connect(creator, "twitch", platforms.twitch.url)

    assert done.status_code == 302
    assert done["Location"] == "/destinations/"
    connection = PlatformConnection.objects.get(user=owner, kind="TWITCH")
    assert connection.stream_key == platforms.twitch.user.stream_key
    assert connection.rtmp_url == f"rtmp://{platforms.twitch.ingest_host}/app"
    assert connection.access_token
    assert connection.refresh_token
    assert connection.account_id == platforms.twitch.user.id
    assert connection.include_in_stream
    assert connection.state == "CONNECTED"
    assert SocialAccount.objects.get(provider="twitch").user == owner
    assert not SocialToken.objects.exists()
    target = prepare_target(connection, title="Hello")
    assert target.url == f"rtmp://{platforms.twitch.ingest_host}/app/{platforms.twitch.user.stream_key}"
    assert viewer_count(connection, "") is None
    platforms.twitch.set_live(viewers=42)
    assert viewer_count(connection, "") == 42


def test_connecting_youtube_creates_a_reusable_live_stream_and_a_titled_broadcast_per_stream(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    connect(creator, "google", platforms.google.url)

    connection = PlatformConnection.objects.get(user=owner, kind="YOUTUBE")
    stream = platforms.google.streams[connection.platform_stream_id]
    assert connection.stream_key == stream["_stream_name"]
    assert connection.rtmp_url == platforms.google.ingestion_address
    assert connection.name == "Sam Streamer"
    assert connection.refresh_token.startswith("1//")
    target = prepare_target(connection, title="My first show")
    broadcast = platforms.google.broadcasts[target.platform_ref]
    assert broadcast["snippet"]["title"] == "My first show"
    assert broadcast["contentDetails"]["boundStreamId"] == connection.platform_stream_id
    assert target.url == f"{platforms.google.ingestion_address}/{stream['_stream_name']}"
    platforms.google.set_stream_active(connection.platform_stream_id)  # video arrives: auto-start
    assert broadcast["status"]["lifeCycleStatus"] == "live"
    finish_target(connection, target.platform_ref)
    assert broadcast["status"]["lifeCycleStatus"] == "complete"

    # A broadcast that never went live cannot be completed on YouTube: it is deleted instead.
    unused = prepare_target(connection, title="Never shown")
    assert platforms.google.broadcasts[unused.platform_ref]["status"]["lifeCycleStatus"] != "live"
    finish_target(connection, unused.platform_ref)
    assert unused.platform_ref not in platforms.google.broadcasts


def test_youtube_channels_without_live_streaming_get_a_clear_message_and_no_connection(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    platforms.google.user.live_streaming_enabled = False

    done = connect(creator, "google", platforms.google.url)

    assert done["Location"] == "/destinations/"
    page = creator.get("/destinations/")
    assert "Enable live streaming on your YouTube channel, then reconnect." in page.content.decode()
    assert not PlatformConnection.objects.exists()


def test_youtube_quota_exhaustion_is_reported_in_words(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    connect(creator, "google", platforms.google.url)
    platforms.google.exhaust_quota()

    with pytest.raises(PlatformError, match="quota"):
        prepare_target(PlatformConnection.objects.get(kind="YOUTUBE"), title="x")


def test_facebook_gets_a_long_lived_token_and_an_rtmps_address_per_stream(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    connect(creator, "facebook", platforms.facebook.url)

    connection = PlatformConnection.objects.get(user=owner, kind="FACEBOOK")
    assert connection.token_expires_at > timezone.now() + timedelta(days=50)
    exchange = [r for r in platforms.facebook.requests if r.query.get("grant_type") == ["fb_exchange_token"]]
    assert len(exchange) == 1
    target = prepare_target(connection, title="Live now")
    assert target.url.startswith("rtmps://live-api-s.facebook.com:443/rtmp/")
    platforms.facebook.start_receiving(target.platform_ref, live_views=7)
    assert viewer_count(connection, target.platform_ref) == 7
    finish_target(connection, target.platform_ref)
    assert platforms.facebook.live_videos[target.platform_ref].status == "VOD"


def test_an_expired_token_is_refreshed_and_a_rotated_refresh_token_kept(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    platforms.twitch.rotate_refresh_tokens = True
    connect(creator, "twitch", platforms.twitch.url)
    connection = PlatformConnection.objects.get(kind="TWITCH")
    old_access, old_refresh = connection.access_token, connection.refresh_token
    platforms.twitch.expire_access_token()  # the platform says 401; our clock still thinks it is fresh

    platforms.twitch.set_live(viewers=3)
    assert viewer_count(connection, "") == 3

    connection.refresh_from_db()
    assert connection.access_token != old_access
    assert connection.refresh_token not in ("", old_refresh)
    assert connection.state == "CONNECTED"


def test_the_beat_task_refreshes_tokens_close_to_expiry(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    connect(creator, "google", platforms.google.url)
    connection = PlatformConnection.objects.get(kind="YOUTUBE")
    PlatformConnection.objects.filter(pk=connection.pk).update(token_expires_at=timezone.now())
    old = connection.access_token

    assert refresh_connection_token(connection.pk) == "refreshed"

    connection.refresh_from_db()
    assert connection.access_token != old
    assert connection.token_expires_at > timezone.now() + timedelta(minutes=50)
    assert refresh_connection_token(connection.pk) == "fresh"


def test_a_refused_refresh_marks_the_connection_for_reconnect_and_the_page_says_so(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    connect(creator, "google", platforms.google.url)
    connection = PlatformConnection.objects.get(kind="YOUTUBE")
    platforms.google.revoke_refresh_token()
    platforms.google.expire_access_token()

    with pytest.raises(PlatformError) as refused:
        prepare_target(connection, title="x")

    assert refused.value.needs_reconnect
    connection.refresh_from_db()
    assert connection.state == "NEEDS_REAUTH"
    assert "Needs reconnect" in creator.get("/destinations/").content.decode()
    # Reconnecting brings it back.
    connect(creator, "google", platforms.google.url)
    connection.refresh_from_db()
    assert connection.state == "CONNECTED"
    assert PlatformConnection.objects.filter(kind="YOUTUBE").count() == 1


def test_social_accounts_never_sign_anyone_up_or_in(client: Client, platforms: PlatformFakes) -> None:
    done = connect(client, "twitch", platforms.twitch.url)

    assert done["Location"] == "/accounts/login/"
    assert "not a way to sign in" in client.get("/accounts/login/").content.decode()
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_denied_consent_connects_nothing(creator: Client, platforms: PlatformFakes) -> None:
    platforms.google.deny_consent = True
    start = creator.post("/accounts/google/login/", {"process": "connect"})

    consent = requests.get(start["Location"], allow_redirects=False, timeout=5)
    done = creator.get(consent.headers["Location"].split("testserver", 1)[1])

    assert done["Location"] == "/accounts/3rdparty/login/cancelled/"
    assert not PlatformConnection.objects.exists()
