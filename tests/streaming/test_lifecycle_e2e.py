"""Lifecycle on real processes: the publisher leaving, a warm worker shutdown, random failing subsets."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from billing.plans import PlanName
from platforms.models import PlatformConnection
from streaming import actions
from streaming.models import DestinationStream, StreamEvent, StreamSession
from streaming.tasks import reconcile
from tests.rtmp_stack import Publisher, SinkServer, closed_port_url
from tests.streaming.conftest import (
    Engine,
    add_sink_destination,
    creator,
    relay_pids,
    session_of,
    states,
    wait_for,
    worker_application_name,
)

pytestmark = pytest.mark.django_db(transaction=True)
_users = itertools.count(1)


def test_a_publisher_gone_past_the_grace_period_ends_the_session(engine: Engine, settings: Any) -> None:
    settings.STREAM_RECONNECT_GRACE_SECONDS = 2  # the reconciler runs here, in the test process
    node = engine.add_node("g")
    user, key = creator("grace@example.com", PlanName.PRO)
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("g-key"), "only")
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: states(user) == {"only": "LIVE"}, 40, "LIVE")
        # on_publish_done: the session waits for its publisher, its relay waits without retrying.
        wait_for(lambda: not session_of(user).publisher_connected, 10, "on_publish_done")  # type: ignore[union-attr]
        session = session_of(user)
        assert session is not None
        assert session.state == StreamSession.State.LIVE
        wait_for(lambda: reconcile()["ended"] == 1, 20, "the grace period to expire")
        wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "ENDED")  # type: ignore[union-attr]
        session.refresh_from_db()
        assert session.end_reason == "Your stream from OBS stopped."
        assert states(user) == {"only": "DISCONNECTED"}
        assert DestinationStream.objects.get(session=session).attempts == 0
        wait_for(lambda: not relay_pids(), 10, "no relay left")


def test_a_warm_worker_shutdown_stops_its_relays_and_frees_their_leases(engine: Engine) -> None:
    node = engine.add_node("w")
    user, key = creator("warm@example.com", PlanName.PRO)
    with SinkServer() as one, SinkServer() as two:
        add_sink_destination(user, one.url("one-key"), "one")
        add_sink_destination(user, two.url("two-key"), "two")
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: states(user) == {"one": "LIVE", "two": "LIVE"}, 40, "both LIVE")
            before = relay_pids()
            assert len(before) == 2
            worker = node.worker.proc
            assert worker is not None
            os.kill(worker.pid, signal.SIGTERM)
            assert worker.wait(timeout=60) == 0  # warm: Celery waited for the supervisors to return
            node.worker.proc = None
            assert not relay_pids()
            session = session_of(user)
            for row in DestinationStream.objects.filter(session=session):
                # Released (not merely expired): the reconciler may re-queue them at once.
                assert row.lease_owner == ""
                assert row.lease_until is not None
                assert row.lease_until <= timezone.now()
                assert row.state == DestinationStream.State.LIVE
            node.worker.start()
            assert reconcile()["requeued"] == 2
            wait_for(
                lambda: set(relay_pids()).isdisjoint(before) and len(relay_pids()) == 2,
                30,
                "relays restarted",
            )
            actions.stop_session(session.pk)  # type: ignore[union-attr]
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 30, "ENDED")  # type: ignore[union-attr]
            wait_for(lambda: not relay_pids(), 10, "no relay left")


KINDS = st.lists(st.sampled_from(["good", "refusing", "vanishing"]), min_size=1, max_size=4)


@settings(
    max_examples=3,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: every example runs real processes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kinds=KINDS, inactive=st.integers(min_value=0, max_value=2))
@example(kinds=["refusing", "vanishing"], inactive=0)
def test_property_3_failing_destinations_never_touch_the_others(
    engine: Engine, kinds: list[str], inactive: int
) -> None:
    """Property 2 (N active destinations, N rows and N relays) and 3 (a failure stays where it is)."""
    node = engine.nodes[0] if engine.nodes else engine.add_node("p")
    user, key = creator(f"prop3-{next(_users)}@example.com", PlanName.BUSINESS)
    names = [f"{kind}{i}" for i, kind in enumerate(kinds)]
    with contextlib.ExitStack() as stack:
        sinks: dict[str, SinkServer] = {}
        for name, kind in zip(names, kinds, strict=True):
            if kind == "refusing":
                add_sink_destination(user, closed_port_url(f"{name}-key"), name)
            else:
                sinks[name] = stack.enter_context(SinkServer())
                add_sink_destination(user, sinks[name].url(f"{name}-key"), name)
        for i in range(inactive):
            off = add_sink_destination(user, closed_port_url("off"), f"off{i}")
            PlatformConnection.objects.filter(pk=off.pk).update(include_in_stream=False)
        good = [n for n in names if n.startswith("good")]
        failing = [n for n in names if not n.startswith("good")]
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: session_of(user) is not None, 20, "the session")
            session = session_of(user)
            assert session is not None
            # Property 2: one row per active destination, none for the inactive ones.
            assert sorted(states(user)) == sorted(names)
            wait_for(lambda: all(states(user)[n] == "LIVE" for n in names if n in sinks), 40, "sinks LIVE")
            pids = {
                n: DestinationStream.objects.get(session=session, label__endswith=f": {n}").process_id
                for n in good
            }
            for name in names:
                if name.startswith("vanishing"):
                    sinks[name].stop()  # the platform disappears mid-stream
            wait_for(
                lambda: all(states(user)[n] == "ERROR" for n in failing), 60, "the failing ones in ERROR"
            )
            if not good:
                wait_for(lambda: session_of(user).state == StreamSession.State.ERROR, 20, "session ERROR")  # type: ignore[union-attr]
                assert "None of your destinations could be reached" in session_of(user).end_reason  # type: ignore[union-attr]
                wait_for(lambda: not relay_pids(), 20, "no relay left")
                return
            frames = {n: sinks[n].decoded_frames(f"{n}-key") for n in good}
            for name in good:
                key, sink, before = f"{name}-key", sinks[name], frames[name]
                wait_for(
                    lambda key=key, sink=sink, before=before: sink.decoded_frames(key) > before + 30,
                    20,
                    f"more frames at {name}",
                )
            for name in good:
                row = DestinationStream.objects.get(session=session, label__endswith=f": {name}")
                assert row.state == "LIVE"
                assert row.process_id == pids[name]  # never restarted
                assert row.attempts == 0
                assert not StreamEvent.objects.filter(destination=row, to_state="CONNECTING").exists()
                assert sinks[name].decoded_frames(f"{name}-key") > frames[name]
            assert session_of(user).state == StreamSession.State.LIVE  # type: ignore[union-attr]
            # Property 2 on processes: exactly one relay per destination still streaming.
            assert len(relay_pids()) == len(good)
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 30, "ENDED")  # type: ignore[union-attr]
            wait_for(lambda: not relay_pids(), 10, "no relay left")


def test_a_node_supervises_more_processes_than_its_database_pool_has_connections(engine: Engine) -> None:
    """Five relays, a pool of three: each supervisor hands its connection back between checks."""
    from django.db import connection

    node = engine.add_node("p")
    user, key = creator("pool@example.com", PlanName.BUSINESS)
    names = [f"p{i}" for i in range(5)]

    def worker_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [worker_application_name(node.name)],
            )
            return cursor.fetchone()[0]

    with contextlib.ExitStack() as stack:
        sinks = [stack.enter_context(SinkServer()) for _ in names]
        for name, sink in zip(names, sinks, strict=True):
            add_sink_destination(user, sink.url(f"{name}-key"), name)
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: states(user) == dict.fromkeys(names, "LIVE"), 45, "five destinations LIVE")
            # Sample the worker's connections over two seconds of every supervisor's heartbeats
            # (every 1 s here), measured by the beats themselves.
            rows = DestinationStream.objects.filter(session=session_of(user))
            first_beat = dict(rows.values_list("pk", "heartbeat_at"))
            seen = []

            def two_seconds_of_beats() -> bool:
                seen.append(worker_connections())
                beats = rows.values_list("pk", "heartbeat_at")
                two_s = timedelta(seconds=2)
                return all(b and first_beat[pk] and b - first_beat[pk] >= two_s for pk, b in beats)

            wait_for(two_seconds_of_beats, 30, "two seconds of every supervisor's heartbeats")
            assert 1 <= max(seen) <= 3, seen
            for name, sink in zip(names, sinks, strict=True):
                key = f"{name}-key"
                wait_for(lambda sink=sink, key=key: sink.decoded_frames(key) > 30, 20, f"frames at {name}")
            assert states(user) == dict.fromkeys(names, "LIVE")
            session = session_of(user)
            assert session is not None
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "ENDED")  # type: ignore[union-attr]
            wait_for(lambda: not relay_pids(), 10, "no relay left")
