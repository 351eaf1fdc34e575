"""Faults on real processes: one destination failing, stalling or vanishing never touches another."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from billing.plans import PlanName
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
)

pytestmark = pytest.mark.django_db(transaction=True)


def dest(user: object, name: str) -> DestinationStream:
    return DestinationStream.objects.get(session=session_of(user), label__endswith=f": {name}")  # type: ignore[arg-type]


class AttemptClock(threading.Thread):
    """When each value of a destination's ``attempts`` was first seen (polled every 50 ms from
    before the session starts: the refused destination's retries are over within seconds)."""

    def __init__(self, user: object, name: str) -> None:
        super().__init__(daemon=True)
        self.user, self.name = user, name
        self.seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.is_set():
                row = DestinationStream.objects.filter(
                    session__user=self.user, label__endswith=f": {self.name}"
                ).first()
                if row is not None:
                    self.seen.setdefault(row.attempts, time.monotonic())
                self.done.wait(0.05)
        finally:
            connection.close()

    def __enter__(self) -> AttemptClock:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join(timeout=5)


def test_refused_vanished_and_frozen_destinations_never_interrupt_the_healthy_one(engine: Engine) -> None:
    node = engine.add_node("f")
    user, key = creator("faults@example.com", PlanName.BUSINESS)
    with SinkServer() as good, SinkServer() as vanishing, SinkServer() as frozen:
        add_sink_destination(user, good.url("good-key"), "good")
        add_sink_destination(user, vanishing.url("v-key"), "vanishing")
        add_sink_destination(user, frozen.url("f-key"), "frozen")
        add_sink_destination(user, closed_port_url("r-key"), "refusing")
        with (
            AttemptClock(user, "refusing") as refusing_attempts,
            Publisher(node.ingest.url(key), keyframe_seconds=1),
        ):
            wait_for(
                lambda: {states(user).get(n) for n in ("good", "vanishing", "frozen")} == {"LIVE"}, 40, "LIVE"
            )
            good_pid = dest(user, "good").process_id
            frozen_pid = dest(user, "frozen").process_id
            assert good_pid
            assert frozen_pid
            os.kill(frozen_pid, signal.SIGSTOP)  # a relay that hangs: killed on stall, restarted
            vanishing.stop()  # a platform that disappears mid-stream: retried, then ERROR
            wait_for(lambda: states(user).get("refusing") == "ERROR", 40, "the refusing destination in ERROR")
            assert "Could not reach" in dest(user, "refusing").error_message
            wait_for(
                lambda: states(user).get("vanishing") == "ERROR", 40, "the vanished destination in ERROR"
            )
            wait_for(lambda: dest(user, "frozen").process_id != frozen_pid, 20, "the frozen relay replaced")
            wait_for(lambda: states(user).get("frozen") == "LIVE", 30, "the frozen destination back LIVE")
            assert not os.path.exists(f"/proc/{frozen_pid}/cmdline") or frozen_pid not in relay_pids()
            good_row = dest(user, "good")
            assert good_row.state == "LIVE"
            assert good_row.process_id == good_pid  # never restarted: no gap
            assert good_row.attempts == 0
            assert not StreamEvent.objects.filter(destination=good_row, to_state="CONNECTING").exists()
            # The refused one was retried on schedule: failure k waits backoff_seconds(k) before the
            # next try: the first at once (at most 25 % of the base), then 1x base, 2x base (each
            # + up to 25 % jitter), and after STREAM_MAX_RETRIES retries it is ERROR. Only lower
            # bounds: a busy machine makes every gap longer, never shorter.
            retries = list(
                StreamEvent.objects.filter(destination=dest(user, "refusing")).values_list(
                    "created_at", "to_state"
                )
            )
            assert [s for _, s in retries][-1] == "ERROR"
            assert dest(user, "refusing").attempts == settings.STREAM_MAX_RETRIES + 1 == 4
            seen = refusing_attempts.seen
            assert {1, 2, 3, 4} <= set(seen), seen
            base, poll = settings.STREAM_RETRY_BASE_SECONDS, 0.1
            assert seen[3] - seen[2] >= 1 * base - poll  # backoff after failure 2
            assert seen[4] - seen[3] >= 2 * base - poll  # backoff after failure 3
            frames_before = good.decoded_frames("good-key")
            wait_for(
                lambda: good.decoded_frames("good-key") > frames_before + 30, 20, "more frames at the sink"
            )
            actions.stop_session(session_of(user).pk)  # type: ignore[union-attr]
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "ENDED")  # type: ignore[union-attr]
            wait_for(lambda: not relay_pids(), 10, "no relay left")


def test_a_killed_media_worker_is_replaced_and_the_other_node_never_notices(engine: Engine) -> None:
    node_a = engine.add_node("k")
    node_b = engine.add_node("m")
    user_a, key_a = creator("nodea@example.com", PlanName.PRO)
    user_b, key_b = creator("nodeb@example.com", PlanName.PRO)
    with SinkServer() as sink_a, SinkServer() as sink_b:
        add_sink_destination(user_a, sink_a.url("a-key"), "a")
        add_sink_destination(user_b, sink_b.url("b-key"), "b")
        with (
            Publisher(node_a.ingest.url(key_a), keyframe_seconds=1),
            Publisher(node_b.ingest.url(key_b), keyframe_seconds=1),
        ):
            wait_for(
                lambda: states(user_a) == {"a": "LIVE"} and states(user_b) == {"b": "LIVE"}, 40, "both LIVE"
            )
            assert session_of(user_a).node == node_a.name  # type: ignore[union-attr]
            assert session_of(user_b).node == node_b.name  # type: ignore[union-attr]
            old_pid = dest(user_a, "a").process_id
            b_pid = dest(user_b, "b").process_id
            assert node_a.worker.proc is not None
            os.kill(node_a.worker.proc.pid, signal.SIGKILL)
            node_a.worker.proc.wait(timeout=10)
            node_a.worker.proc = None
            # Its relay dies with it (parent-death signal): nothing keeps pushing unsupervised.
            wait_for(lambda: old_pid not in relay_pids(), 10, "the killed worker's relay gone")
            node_a.worker.start()
            # The reconciler (beat, every 5 s) re-queues the row once its lease expires.
            wait_for(lambda: reconcile()["requeued"] >= 1, 20, "the orphaned destination re-queued")
            wait_for(
                lambda: states(user_a) == {"a": "LIVE"} and dest(user_a, "a").process_id != old_pid,
                30,
                "a back",
            )
            assert dest(user_b, "b").process_id == b_pid
            assert not StreamEvent.objects.filter(
                destination=dest(user_b, "b"), to_state="CONNECTING"
            ).exists()
            for user in (user_a, user_b):
                actions.stop_session(session_of(user).pk)  # type: ignore[union-attr]
            wait_for(lambda: not relay_pids(), 20, "no relay left")
