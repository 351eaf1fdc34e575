"""Faults on real processes: one destination failing, stalling or vanishing never touches another."""

from __future__ import annotations

import os
import signal
import time

import pytest

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


def test_refused_vanished_and_frozen_destinations_never_interrupt_the_healthy_one(engine: Engine) -> None:
    node = engine.add_node("f")
    user, key = creator("faults@example.com", PlanName.BUSINESS)
    with SinkServer() as good, SinkServer() as vanishing, SinkServer() as frozen:
        add_sink_destination(user, good.url("good-key"), "good")
        add_sink_destination(user, vanishing.url("v-key"), "vanishing")
        add_sink_destination(user, frozen.url("f-key"), "frozen")
        add_sink_destination(user, closed_port_url("r-key"), "refusing")
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
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
            # The refused one was retried on schedule: 1 s, 2 s, 4 s backoff (+ up to 25 % jitter).
            retries = list(
                StreamEvent.objects.filter(destination=dest(user, "refusing")).values_list(
                    "created_at", "to_state"
                )
            )
            assert [s for _, s in retries][-1] == "ERROR"
            assert dest(user, "refusing").attempts == 4
            frames_before = good.decoded_frames("good-key")
            time.sleep(2)
            assert good.decoded_frames("good-key") > frames_before
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
