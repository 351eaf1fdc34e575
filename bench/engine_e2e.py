"""End-to-end engine timings through the real path: nginx-rtmp on_publish → Django (live_server)
→ Celery media worker → supervisor → relay (ffmpeg) → sink nginx. Not part of the suite (it lives
outside ``tests/``); it prints numbers, it asserts nothing about them.

    .venv/bin/pytest bench/engine_e2e.py -s -q -p no:randomly

(a) publish start → first video frame recorded at every one of 3 sinks (640x360p30, keyframe
every 2 s, like bench/restream.py part a), 3 runs. (b) a relay frozen with SIGSTOP: time until
the supervisor has started a replacement (stall detected) and until the replacement's first
progress (the destination LIVE again), 3 runs.
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import time

import pytest

from billing.plans import PlanName
from streaming import actions
from streaming.models import DestinationStream, StreamSession
from tests.conftest import _fresh_cache  # noqa: F401 - autouse fixture of the suite
from tests.rtmp_stack import Publisher, SinkServer
from tests.streaming.conftest import (
    Engine,
    add_sink_destination,
    creator,
    engine,  # noqa: F401 - fixture
    relay_pids,
    session_of,
    states,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = 3
_n = itertools.count(1)


def _stats(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, min {min(values):.2f} s, max {max(values):.2f} s"


def test_bench_first_frame_through_the_engine(engine: Engine) -> None:  # noqa: F811
    node = engine.add_node("l")
    times: list[float] = []
    for _ in range(RUNS):
        user, key = creator(f"lat{next(_n)}@example.com", PlanName.PRO)
        with SinkServer() as s1, SinkServer() as s2, SinkServer() as s3:
            sinks = [s1, s2, s3]
            for i, sink in enumerate(sinks):
                add_sink_destination(user, sink.url(f"k{i}"), f"d{i}")
            with Publisher(
                node.ingest.url(key), width=640, height=360, video_kbps=800, keyframe_seconds=2
            ) as pub:
                pending = set(range(3))
                deadline = time.monotonic() + 30
                while pending and time.monotonic() < deadline:
                    pending = {i for i in pending if not sinks[i].first_video_tag(f"k{i}")}
                    time.sleep(0.005)
                assert not pending, states(user)
                times.append(time.monotonic() - pub.started_at)
                actions.stop_session(session_of(user).pk)  # type: ignore[union-attr]
                wait_for(lambda u=user: session_of(u).state == StreamSession.State.ENDED, 30, "ENDED")  # type: ignore[union-attr]
        wait_for(lambda: not relay_pids(), 15, "no relay left")
    print(f"\n(a) publish start -> first video frame at all 3 sinks, {RUNS} runs: {_stats(times)}")
    print("    runs:", ", ".join(f"{t:.2f}" for t in times))


def test_bench_frozen_relay_replaced(engine: Engine) -> None:  # noqa: F811
    node = engine.add_node("z")
    user, key = creator("frozen@example.com", PlanName.PRO)
    detected: list[float] = []
    live_again: list[float] = []
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("z-key"), "z")
        with Publisher(node.ingest.url(key), keyframe_seconds=2):
            for _ in range(RUNS):
                wait_for(lambda: states(user) == {"z": "LIVE"}, 60, "LIVE")
                time.sleep(3)
                row = DestinationStream.objects.get(session=session_of(user))
                pid = row.process_id
                assert pid
                t0 = time.monotonic()
                os.kill(pid, signal.SIGSTOP)
                wait_for(
                    lambda p=pid, k=row.pk: DestinationStream.objects.get(pk=k).process_id != p,
                    30,
                    "replacement",
                )
                detected.append(time.monotonic() - t0)
                wait_for(
                    lambda p=pid, k=row.pk: (
                        (r := DestinationStream.objects.get(pk=k)).state == "LIVE" and r.process_id != p
                    ),
                    30,
                    "LIVE again",
                )
                live_again.append(time.monotonic() - t0)
            actions.stop_session(session_of(user).pk)  # type: ignore[union-attr]
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 30, "ENDED")  # type: ignore[union-attr]
    wait_for(lambda: not relay_pids(), 15, "no relay left")
    print(f"\n(b) SIGSTOP -> replacement relay started, {RUNS} runs: {_stats(detected)}")
    print(f"    SIGSTOP -> replacement's first progress (LIVE), {RUNS} runs: {_stats(live_again)}")


def test_bench_first_frame_of_a_branded_free_stream(engine: Engine) -> None:  # noqa: F811
    """(c) FREE: every destination reads a branded rendition, so the first frame waits for the
    encoder. Run 1 is the creator's first session (planned on a guess); later runs are planned on
    the source probed last time."""
    node = engine.add_node("f")
    user, key = creator("free-latency@example.com", PlanName.FREE)
    times: list[float] = []
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("f-key"), "f")
        for _ in range(RUNS):
            with Publisher(
                node.ingest.url(key), width=640, height=360, video_kbps=800, keyframe_seconds=2
            ) as pub:
                deadline = time.monotonic() + 30
                while not sink.first_video_tag("f-key") and time.monotonic() < deadline:
                    time.sleep(0.005)
                assert sink.first_video_tag("f-key"), states(user)
                times.append(time.monotonic() - pub.started_at)
                wait_for(lambda: session_of(user).source_checked, 20, "source checked")  # type: ignore[union-attr]
                actions.stop_session(session_of(user).pk)  # type: ignore[union-attr]
                wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 30, "ENDED")  # type: ignore[union-attr]
            wait_for(lambda: not relay_pids(), 15, "no relay left")
            sink.recording("f-key").unlink(missing_ok=True)
    print(f"\n(c) FREE (branded rendition) publish start -> first video frame at the sink, {RUNS} runs:")
    print("    runs:", ", ".join(f"{t:.2f}" for t in times), "(run 1: first session, planned on a guess)")
