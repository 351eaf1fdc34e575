"""A destination that is over ends its platform-side stream: the supervisor completes the YouTube
broadcast (or ends the Facebook live video) it created, when the session stops and when the
destination fails for good. Real supervisor, real PostgreSQL, the platforms' local fakes; the
relay reads a port nothing listens on, so it never streams and retries until told to stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client

from accounts.models import User
from config.celery import app as celery_app
from platforms.models import PlatformConnection
from platforms.targets import prepare_target
from streaming import actions
from streaming.models import DestinationStream, StreamSession
from streaming.supervisor import supervise_destination
from tests.fakes.platform_apis import PlatformFakes
from tests.platforms.conftest import connect
from tests.rtmp_stack import wait_until
from tests.streaming.test_races import live_session

pytestmark = pytest.mark.django_db(transaction=True)


def start_supervisor(destination_id: int, outcome: list[str]) -> threading.Thread:
    def run() -> None:
        try:
            outcome.append(supervise_destination(destination_id).result)
        finally:
            db_connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.fixture
def no_ingest(settings: Any) -> None:
    settings.RTMP_PORT = 1  # the relay cannot read: it fails and retries until stopped


@pytest.mark.parametrize("kind", ["google", "facebook"])
def test_stopping_a_session_ends_the_platform_stream(
    client: Client, owner: User, platforms: PlatformFakes, no_ingest: None, kind: str, caplog: Any
) -> None:
    client.force_login(owner)
    connect(client, kind, getattr(platforms, kind).url)
    connection = PlatformConnection.objects.get(user=owner)
    session = live_session(owner, [connection])
    dest = DestinationStream.objects.get(session=session)
    outcome: list[str] = []
    thread = start_supervisor(dest.pk, outcome)
    try:
        assert wait_until(lambda: DestinationStream.objects.get(pk=dest.pk).platform_ref != "", 15)
        ref = DestinationStream.objects.get(pk=dest.pk).platform_ref
        if kind == "google":
            platforms.google.set_stream_active(connection.platform_stream_id)  # video arrived: live
            assert platforms.google.broadcasts[ref]["status"]["lifeCycleStatus"] == "live"
        else:
            platforms.facebook.start_receiving(ref)
            assert platforms.facebook.live_videos[ref].status == "LIVE"
    finally:
        StreamSession.objects.filter(pk=session.pk).update(desired=StreamSession.Desired.STOPPED)
        thread.join(timeout=30)
    assert outcome == ["stopped"]
    assert DestinationStream.objects.get(pk=dest.pk).state == DestinationStream.State.DISCONNECTED
    if kind == "google":
        assert platforms.google.broadcasts[ref]["status"]["lifeCycleStatus"] == "complete"
    else:
        assert platforms.facebook.live_videos[ref].status == "VOD"
    key = PlatformConnection.objects.get(pk=connection.pk).stream_key
    secrets = [s for s in (key, connection.access_token, connection.refresh_token) if s]
    assert not any(secret in caplog.text for secret in secrets)


def test_a_destination_that_fails_for_good_ends_its_broadcast(
    client: Client, owner: User, platforms: PlatformFakes, no_ingest: None, settings: Any
) -> None:
    settings.STREAM_MAX_RETRIES = 0  # the first failure is the last
    client.force_login(owner)
    connect(client, "google", platforms.google.url)
    youtube = PlatformConnection.objects.get(user=owner, kind="YOUTUBE")
    session = live_session(owner, [youtube])
    dest = DestinationStream.objects.get(session=session)
    outcome: list[str] = []
    thread = start_supervisor(dest.pk, outcome)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome == ["failed"]
    row = DestinationStream.objects.get(pk=dest.pk)
    assert row.state == DestinationStream.State.ERROR
    # It never went live, so YouTube cannot complete it: ending it deletes it.
    assert row.platform_ref
    assert row.platform_ref not in platforms.google.broadcasts
    ends = [r for r in platforms.google.requests if r.path.endswith("/liveBroadcasts/transition")]
    assert [r.query.get("broadcastStatus") for r in ends] == [["complete"]]


@pytest.fixture
def tasks_in_process() -> Iterator[None]:
    """Tasks queued by the code under test run here, as a worker would run them."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def test_a_destination_closed_without_its_supervisor_ends_its_broadcast(
    client: Client, owner: User, platforms: PlatformFakes, tasks_in_process: None
) -> None:
    """The media worker died: nobody holds the destination, and the session's finalisation closes
    it; the YouTube broadcast its supervisor had created is completed all the same."""
    client.force_login(owner)
    connect(client, "google", platforms.google.url)
    youtube = PlatformConnection.objects.get(user=owner, kind="YOUTUBE")
    session = live_session(owner, [youtube])
    target = prepare_target(youtube, title="Live")  # what the dead supervisor had done
    DestinationStream.objects.filter(session=session).update(
        platform_ref=target.platform_ref, state=DestinationStream.State.LIVE
    )
    platforms.google.set_stream_active(youtube.platform_stream_id)
    assert platforms.google.broadcasts[target.platform_ref]["status"]["lifeCycleStatus"] == "live"

    StreamSession.objects.filter(pk=session.pk).update(state=StreamSession.State.ENDING)
    assert actions.finalize_session(session.pk)
    assert DestinationStream.objects.get(session=session).state == DestinationStream.State.DISCONNECTED
    assert platforms.google.broadcasts[target.platform_ref]["status"]["lifeCycleStatus"] == "complete"
