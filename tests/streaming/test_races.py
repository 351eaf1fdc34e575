"""Races around the lease, on real PostgreSQL: a supervisor fenced off changes nothing, a platform
call longer than the lease does not let a second supervisor in, token refreshes do not trip over
each other, and the reconciler neither re-queues without end nor shows a dead relay as live."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection as db_connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.plans import Decision
from core.leases import LeaseLost
from platforms.models import PlatformConnection
from platforms.tokens import refresh_tokens
from recordings.actions import stop_recording_at_quota
from recordings.models import Recording
from streaming import actions
from streaming.leases import LeaseRunner
from streaming.models import DestinationStream, Encoder, StreamEvent, StreamSession
from streaming.supervisor import supervise_destination
from streaming.tasks import poll_viewers, reconcile
from streaming.workloads import RelayWorkload
from tests.conftest import make_user
from tests.fakes import twitch_api
from tests.fakes.platform_apis import PlatformFakes
from tests.platforms.conftest import connect
from tests.rtmp_stack import wait_until


def live_session(user: User, connections: list[PlatformConnection], node: str = "race") -> StreamSession:
    session = StreamSession.objects.create(
        user=user,
        node=node,
        stream_name=StreamSession.new_stream_name(),
        quality_ceiling="720p",
        planned=True,
        publisher_connected=True,
    )
    for c in connections:
        DestinationStream.objects.create(session=session, connection=c, label=str(c), kind=c.kind)
    return session


def custom(user: User, name: str = "d0") -> PlatformConnection:
    return PlatformConnection.objects.create(
        user=user, kind="CUSTOM", name=name, rtmp_url="rtmp://127.0.0.1:1/app", stream_key=f"key-{name}"
    )


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    def run(i: int) -> Any:
        try:
            return work(i)
        finally:
            db_connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_racing_for_one_destination_one_wins_and_the_fenced_one_changes_nothing(
    owner: User,
) -> None:
    session = live_session(owner, [custom(owner)])
    dest = DestinationStream.objects.get(session=session)
    tokens = in_threads(8, lambda i: DestinationStream.claim(dest.pk, f"racer-{i}", 8))
    assert sum(token is not None for token in tokens) == 1

    first = LeaseRunner(DestinationStream, dest.pk, "first", 8, 2)
    first.token = next(t for t in tokens if t is not None)
    work = RelayWorkload(dest.pk, first)
    # The first holder stalls past its lease; the reconciler gives the row to a second supervisor.
    DestinationStream.objects.filter(pk=dest.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = LeaseRunner(DestinationStream, dest.pk, "second", 8, 2)
    assert second.claim(0.0)
    before = DestinationStream.objects.values().get(pk=dest.pk)
    events = StreamEvent.objects.count()
    writes: list[Callable[[], object]] = [
        lambda: work.failed("output_rejected", ""),
        lambda: work.retrying("stalled", "no progress"),
        work.went_live,
        work.stopped,
        lambda: work.record_attempts(3),
        lambda: work.record_pid(4242),
    ]
    for write in writes:
        with pytest.raises(LeaseLost):
            write()
    assert DestinationStream.objects.values().get(pk=dest.pk) == before
    assert StreamEvent.objects.count() == events
    assert StreamSession.objects.get(pk=session.pk).state == StreamSession.State.STARTING
    assert not first.renew(0.0)
    # The holder's own writes go through.
    RelayWorkload(dest.pk, second).retrying("stalled", "no progress")
    assert (
        DestinationStream.objects.get(pk=dest.pk).error_message
        == "The stream to Custom RTMP: d0 stopped moving"
    )


@pytest.mark.django_db(transaction=True)
def test_a_fenced_off_recorder_stopping_at_the_quota_changes_nothing(owner: User) -> None:
    session = live_session(owner, [])
    recording = Recording.objects.create(user=owner, session=session)
    first = LeaseRunner(Recording, recording.pk, "first", 8, 2)
    assert first.claim(0.0)
    Recording.objects.filter(pk=recording.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = LeaseRunner(Recording, recording.pk, "second", 8, 2)
    assert second.claim(0.0)
    full = Decision(False, message="Your plan keeps 1 GB.")
    before = Recording.objects.values().get(pk=recording.pk)
    events = StreamEvent.objects.count()
    with pytest.raises(LeaseLost):
        stop_recording_at_quota(recording.pk, full, first.fencing_token())
    assert Recording.objects.values().get(pk=recording.pk) == before
    assert StreamEvent.objects.count() == events
    # The holder's stop goes through.
    stop_recording_at_quota(recording.pk, full, second.fencing_token())
    row = Recording.objects.get(pk=recording.pk)
    assert (row.desired, row.message) == (
        Recording.Desired.STOP,
        "Recording stopped: storage full. Your plan keeps 1 GB.",
    )
    assert StreamEvent.objects.count() == events + 1


@pytest.mark.django_db(transaction=True)
def test_a_platform_call_longer_than_the_lease_does_not_let_a_second_supervisor_in(
    client: Client, owner: User, platforms: PlatformFakes, settings: Any
) -> None:
    settings.STREAM_LEASE_SECONDS = 1.0
    settings.STREAM_HEARTBEAT_SECONDS = 0.25
    settings.RTMP_PORT = 1  # no ingest: the relay fails to read and retries until stopped
    client.force_login(owner)
    connect(client, "google", platforms.google.url)
    youtube = PlatformConnection.objects.get(user=owner, kind="YOUTUBE")
    session = live_session(owner, [youtube])
    dest = DestinationStream.objects.get(session=session)
    slow = platforms.google.hold("POST", r"/youtube/v3/liveBroadcasts")
    outcome: list[str] = []

    def supervisor() -> None:
        try:
            outcome.append(supervise_destination(dest.pk).result)
        finally:
            db_connection.close()

    thread = threading.Thread(target=supervisor)
    thread.start()
    try:
        assert slow.wait_for(1, timeout=10), "the supervisor never called YouTube"
        first_deadline = DestinationStream.objects.get(pk=dest.pk).lease_until
        assert first_deadline is not None
        # Wait (bounded) until the lease the supervisor had when it called YouTube has run out.
        assert wait_until(lambda: timezone.now() > first_deadline + timedelta(seconds=1), 10)
        # What a second supervisor (queued by the reconciler) would do: it must find the row held.
        assert DestinationStream.claim(dest.pk, "second", 1.0) is None
        assert reconcile()["requeued"] == 0
    finally:
        slow.release()
        assert wait_until(lambda: DestinationStream.objects.get(pk=dest.pk).platform_ref != "", 10)
        StreamSession.objects.filter(pk=session.pk).update(desired=StreamSession.Desired.STOPPED)
        thread.join(timeout=30)
    assert outcome == ["stopped"]
    inserts = [
        r for r in platforms.google.requests if r.method == "POST" and r.path.endswith("/liveBroadcasts")
    ]
    assert len(inserts) == 1


def lock_waiters() -> int:
    """Backends of this database waiting for a row lock."""
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_with_rotated_refresh_tokens_keep_the_destination_connected(
    client: Client, owner: User, platforms: PlatformFakes
) -> None:
    platforms.twitch.rotate_refresh_tokens = True
    client.force_login(owner)
    connect(client, "twitch", platforms.twitch.url)
    pk = PlatformConnection.objects.get(user=owner, kind="TWITCH").pk
    # Beat and a supervisor both read the connection before either refreshes.
    copies = [PlatformConnection.objects.get(pk=pk) for _ in range(2)]
    slow = platforms.twitch.hold("POST", r"/oauth2/token")
    errors: list[BaseException] = []

    def refresh(i: int) -> None:
        try:
            refresh_tokens(copies[i])
        except BaseException as exc:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(lambda i=i: (refresh(i), db_connection.close())) for i in range(2)]
        try:
            assert slow.wait_for(1, timeout=10)
            # Either both asked Twitch (the race) or the second waits for the first's lock.
            assert wait_until(lambda: slow.arrived >= 2 or lock_waiters() >= 1, 10)
        finally:
            slow.release()
        for future in done:
            future.result(timeout=20)
    assert errors == []
    row = PlatformConnection.objects.get(pk=pk)
    assert row.state == PlatformConnection.State.CONNECTED
    assert slow.arrived == 1
    assert {c.access_token for c in copies} == {row.access_token}


@pytest.mark.django_db(transaction=True)
def test_the_reconciler_queues_a_row_once_while_its_node_is_down(owner: User) -> None:
    session = live_session(owner, [custom(owner)], node=f"down-{timezone.now().timestamp()}")
    StreamSession.objects.filter(pk=session.pk).update(started_at=timezone.now() - timedelta(minutes=1))
    dest = DestinationStream.objects.get(session=session)
    task = "streaming.tasks.supervise_destination"
    try:
        assert reconcile()["requeued"] == 1  # never held: queued on its node
        for _ in range(3):
            # Nobody takes the message (the node's worker is down) and the queued lease runs out.
            DestinationStream.objects.filter(pk=dest.pk).update(
                lease_until=timezone.now() - timedelta(seconds=1)
            )
            assert reconcile()["requeued"] == 0
        assert cache.get(actions.queued_marker("streaming.tasks.check_source", session.pk)) is not None
        sent = actions.queue_once(
            "streaming.tasks.check_source", session.pk, queue=actions.media_queue(session.node)
        )
        assert not sent  # the check queued by the first pass is still waiting: not sent again
        # When the task finally starts, the row can be queued again.
        actions.dequeued(task, dest.pk)
        DestinationStream.objects.filter(pk=dest.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert reconcile()["requeued"] == 1
    finally:
        actions.dequeued(task, dest.pk)
        actions.dequeued("streaming.tasks.check_source", session.pk)
        purge_queue(actions.media_queue(session.node))


def purge_queue(name: str) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)


@pytest.mark.django_db(transaction=True)
def test_a_destination_whose_holder_is_gone_turns_reconnecting_at_the_next_pass(owner: User) -> None:
    session = live_session(owner, [custom(owner, "a"), custom(owner, "b")])
    gone, held = DestinationStream.objects.filter(session=session).order_by("pk")
    encoder = Encoder.objects.create(session=session, rendition="720p", state=Encoder.State.RUNNING)
    for row in (gone, held):
        row.transition_to(DestinationStream.State.LIVE)
    assert DestinationStream.claim(gone.pk, "dead-worker", 8) is not None
    assert DestinationStream.claim(held.pk, "live-worker", 8) is not None
    assert Encoder.claim(encoder.pk, "dead-worker", 8) is not None
    # The dead worker's leases run out; the live worker keeps heartbeating.
    past = timezone.now() - timedelta(seconds=1)
    DestinationStream.objects.filter(pk=gone.pk).update(lease_until=past)
    Encoder.objects.filter(pk=encoder.pk).update(lease_until=past)
    try:
        reconcile()
        assert DestinationStream.objects.get(pk=gone.pk).state == DestinationStream.State.CONNECTING
        assert "Reconnecting" in DestinationStream.objects.get(pk=gone.pk).error_message
        assert DestinationStream.objects.get(pk=held.pk).state == DestinationStream.State.LIVE
        assert Encoder.objects.get(pk=encoder.pk).state == Encoder.State.STARTING
    finally:
        for task, pk in (
            ("streaming.tasks.supervise_destination", gone.pk),
            ("streaming.tasks.supervise_encoder", encoder.pk),
            ("streaming.tasks.check_source", session.pk),
        ):
            actions.dequeued(task, pk)
        purge_queue(actions.media_queue(session.node))


@pytest.mark.django_db(transaction=True)
def test_viewer_polling_asks_platforms_in_parallel_and_one_bad_answer_does_not_stop_the_pass(
    owner: User, platforms: PlatformFakes, caplog: pytest.LogCaptureFixture
) -> None:
    twitch = platforms.twitch
    streamer = twitch.user
    odd = twitch.add_user()  # a channel whose count comes back malformed
    twitch.set_live(streamer, viewers=42)
    twitch.set_live(odd, viewers="many")  # type: ignore[arg-type]

    def twitch_destination(user: User, channel: Any, token: str) -> DestinationStream:
        connection = PlatformConnection.objects.create(
            user=user,
            kind="TWITCH",
            name=channel.login,
            account_id=channel.id,
            rtmp_url="rtmp://127.0.0.1:1/app",
            stream_key=f"key-{channel.id}",
            access_token=token,
            token_expires_at=timezone.now() + timedelta(hours=1),
        )
        dest = DestinationStream.objects.get(session=live_session(user, [connection]))
        dest.transition_to(DestinationStream.State.LIVE)
        return dest

    def access(channel: Any) -> str:
        return str(
            twitch.grants.issue_access(
                channel.id, twitch_api.CLIENT_ID, ("channel:read:stream_key",), 3600
            ).token
        )

    refused = twitch_destination(make_user(), streamer, "not-a-token")
    malformed = twitch_destination(make_user(), odd, access(odd))
    good = twitch_destination(owner, streamer, access(streamer))
    slow = twitch.hold("GET", r"/helix/streams")
    counted: list[int] = []
    polling = threading.Thread(target=lambda: (counted.append(poll_viewers()), db_connection.close()))
    polling.start()
    try:
        # Every destination's platform is asked before any has answered.
        assert slow.wait_for(3, timeout=10)
    finally:
        slow.release()
        polling.join(timeout=30)
    assert counted == [1]
    assert DestinationStream.objects.get(pk=good.pk).viewer_count == 42
    assert DestinationStream.objects.get(pk=refused.pk).viewer_count is None
    assert DestinationStream.objects.get(pk=malformed.pk).viewer_count is None
    logged = [r.getMessage() for r in caplog.records if "viewer count of destination" in r.getMessage()]
    assert len(logged) == 2, logged
