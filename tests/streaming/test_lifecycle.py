"""Session lifecycle without media processes: state machines, ERROR, the duration limit, viewers, ops."""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from core.states import IllegalTransition
from platforms.models import PlatformConnection
from streaming import actions
from streaming.models import (
    DestinationStream,
    Encoder,
    IngestKey,
    StreamEvent,
    StreamSession,
)
from streaming.rtmp_config import nginx_command
from streaming.status import user_group
from streaming.tasks import poll_viewers, reconcile
from tests.fakes import twitch_api
from tests.streaming.test_callbacks import ON_PUBLISH, publish_form, with_destinations

ON_UPDATE = "/rtmp/on_update/?node=n1"


@pytest.fixture
def keyed(owner: User) -> str:
    return IngestKey.regenerate(owner).key


def go_live(client: Client, key: str) -> StreamSession:
    assert client.post(ON_PUBLISH, publish_form(key)).status_code == 302
    return StreamSession.objects.get(state__in=StreamSession.ACTIVE)


def update(client: Client, session: StreamSession) -> int:
    return client.post(ON_UPDATE, {**publish_form(session.stream_name), "call": "update_publish"}).status_code


def test_every_state_machine_refuses_a_move_its_table_forbids(
    client: Client, owner: User, keyed: str
) -> None:
    with_destinations(owner, 1)
    session = go_live(client, keyed)
    dest = DestinationStream.objects.get(session=session)
    encoder = Encoder.objects.create(session=session, rendition="720p")
    dest.transition_to(DestinationStream.State.DISCONNECTED)
    encoder.transition_to(Encoder.State.STOPPED)
    for row, illegal in (
        (session, StreamSession.State.ENDED),  # STARTING -> ENDED skips ENDING
        (dest, DestinationStream.State.LIVE),  # DISCONNECTED is final
        (encoder, Encoder.State.RUNNING),  # STOPPED is final
    ):
        events = StreamEvent.objects.count()
        before = type(row).objects.get(pk=row.pk).state
        with pytest.raises(IllegalTransition):
            row.transition_to(illegal)
        assert type(row).objects.get(pk=row.pk).state == before
        assert StreamEvent.objects.count() == events


def test_a_transition_records_one_event_and_a_repeat_records_none(
    client: Client, owner: User, keyed: str
) -> None:
    with_destinations(owner, 1)
    session = go_live(client, keyed)
    dest = DestinationStream.objects.get(session=session)
    assert dest.transition_to(DestinationStream.State.LIVE)
    assert not dest.transition_to(DestinationStream.State.LIVE)
    assert dest.live_since is not None
    events = StreamEvent.objects.filter(destination=dest)
    assert [(e.from_state, e.to_state) for e in events] == [("CONNECTING", "LIVE")]


def test_every_destination_in_error_puts_the_session_in_error_and_drops_the_publisher(
    client: Client, owner: User, keyed: str
) -> None:
    Subscription.objects.create(user=owner, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    with_destinations(owner, 2)
    session = go_live(client, keyed)
    first, second = DestinationStream.objects.filter(session=session)
    first.transition_to(DestinationStream.State.ERROR, "Could not reach d0's server")
    assert not actions.fail_session_if_no_destination_left(session.pk)
    session.refresh_from_db()
    assert session.state == StreamSession.State.STARTING
    assert update(client, session) == 200
    second.transition_to(DestinationStream.State.ERROR, "Could not reach d1's server")
    assert actions.fail_session_if_no_destination_left(session.pk)
    session.refresh_from_db()
    assert session.state == StreamSession.State.ERROR
    assert session.end_reason.startswith("None of your destinations could be reached")
    assert session.ended_at is not None
    assert update(client, session) == 403
    # ERROR is final, and it does not block going live again.
    with pytest.raises(IllegalTransition):
        session.transition_to(StreamSession.State.ENDED)
    assert actions.finalize_session(session.pk)
    session.refresh_from_db()
    assert session.state == StreamSession.State.ERROR
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 302


def test_later_callbacks_carry_the_ingest_key_and_reach_the_session(
    client: Client, owner: User, keyed: str
) -> None:
    """nginx-rtmp renames the stream on our 302 but calls publish_done and update with the key."""
    with_destinations(owner, 1)
    session = go_live(client, keyed)
    by_key = {**publish_form(keyed), "call": "update_publish"}
    assert client.post(ON_UPDATE, by_key).status_code == 200
    assert client.post(ON_UPDATE.replace("n1", "n2"), by_key).status_code == 403  # not this node's
    done = {**publish_form(keyed), "call": "publish_done"}
    assert client.post("/rtmp/on_publish_done/?node=n1", done).status_code == 200
    session.refresh_from_db()
    assert not session.publisher_connected
    assert session.publisher_left_at is not None
    actions.stop_session(session.pk)
    assert client.post(ON_UPDATE, by_key).status_code == 403


def receive(channel: str, timeout: float) -> dict[str, Any] | None:
    layer = get_channel_layer()

    async def one() -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(one)()


def test_the_free_plan_limit_warns_then_ends_the_stream(client: Client, owner: User, keyed: str) -> None:
    with_destinations(owner, 1)
    session = go_live(client, keyed)
    assert session.ends_at == session.started_at + timedelta(minutes=120)  # FREE: 120 minutes
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(owner.pk), channel)
    try:
        StreamSession.objects.filter(pk=session.pk).update(ends_at=timezone.now() + timedelta(minutes=4))
        assert reconcile()["warned"] == 1
        assert reconcile()["warned"] == 0  # once
        message = receive(channel, 5)
        while message is not None and message["type"] != "stream.warning":
            message = receive(channel, 5)
        assert message is not None
        assert "ends in 4 minutes" in message["message"]
        assert update(client, session) == 200
        StreamSession.objects.filter(pk=session.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
        assert update(client, session) == 403  # nginx drops the publisher
    finally:
        async_to_sync(layer.group_discard)(user_group(owner.pk), channel)
    session.refresh_from_db()
    assert session.state == StreamSession.State.ENDING
    assert "Free plan" in session.end_reason
    assert "120 minutes" in session.end_reason


def test_an_upgrade_lifts_the_duration_limit(client: Client, owner: User, keyed: str) -> None:
    with_destinations(owner, 1)
    session = go_live(client, keyed)
    assert session.ends_at is not None
    Subscription.objects.create(user=owner, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    assert actions.end_sessions_over_plan(owner.pk) == 0  # PRO covers the session: it goes on
    session.refresh_from_db()
    assert session.ends_at is None  # PRO streams without a time limit


def test_the_reconciler_ends_a_stream_over_its_limit(client: Client, owner: User, keyed: str) -> None:
    with_destinations(owner, 1)
    session = go_live(client, keyed)
    StreamSession.objects.filter(pk=session.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert reconcile()["ended"] == 1
    session.refresh_from_db()
    assert session.state == StreamSession.State.ENDED  # no supervisor held a row: finalized at once
    assert "120 minutes" in session.end_reason


def test_viewer_counts_come_from_the_platform(
    platforms: Any, owner: User, keyed: str, client: Client
) -> None:
    twitch = platforms.twitch
    token = twitch.grants.issue_access(
        twitch.user.id, twitch_api.CLIENT_ID, ("channel:read:stream_key",), 3600
    )
    connection = PlatformConnection.objects.create(
        user=owner,
        kind=PlatformConnection.Kind.TWITCH,
        name="SamStreams",
        account_id=twitch.user.id,
        rtmp_url="rtmp://127.0.0.1:1/app",
        stream_key="live_123_abc",
        access_token=token.token,
        token_expires_at=timezone.now() + timedelta(hours=1),
    )
    session = go_live(client, keyed)
    dest = DestinationStream.objects.get(session=session, connection=connection)
    dest.transition_to(DestinationStream.State.LIVE)
    twitch.set_live(viewers=42)
    assert poll_viewers() == 1
    dest.refresh_from_db()
    assert dest.viewer_count == 42
    twitch.set_live(viewers=43)
    poll_viewers()
    dest.refresh_from_db()
    assert dest.viewer_count == 43


def test_the_rtmp_config_command_writes_a_config_nginx_accepts(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.MEDIA_NODE = "cmdtest"
    out = StringIO()
    call_command("rtmp_config", stdout=out)
    runtime = tmp_path / "run" / "nginx-cmdtest"
    assert f"Wrote {runtime / 'nginx.conf'}" in out.getvalue()
    if os.geteuid() == 0:  # started as root, the worker that speaks RTMP runs as RTMP_WORKER_USER
        assert f"user {settings.RTMP_WORKER_USER} " in (runtime / "nginx.conf").read_text()
        assert (runtime / "hls").stat().st_uid == pwd.getpwnam(settings.RTMP_WORKER_USER).pw_uid
    check = subprocess.run(
        nginx_command(runtime / "nginx.conf", runtime, test=True),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr
