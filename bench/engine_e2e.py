"""End-to-end engine timings through the real path: nginx-rtmp on_publish → Django (live_server)
→ Celery media worker → supervisor → relay (ffmpeg) → sink nginx. Not part of the suite (it lives
outside ``tests/``); it prints numbers, it asserts nothing about them.

    .venv/bin/pytest bench/engine_e2e.py -s -q -p no:randomly

(a) publish start → first video frame recorded at every one of 3 sinks (640x360p30, keyframe
every 2 s, like bench/restream.py part a), 3 runs. (b) a relay frozen with SIGSTOP: time until
the supervisor has started a replacement (stall detected), until the replacement's first
progress (the destination LIVE again), and until video is back at the sink, ``FROZEN_RUNS`` runs
(default 20). (d) the cost of a supervised copy destination with the media worker's CPU counted
(the Celery process with its supervisor threads, plus each relay) beside bare ``ffmpeg -c copy``
relays reading the same stream, ``COST_DESTINATIONS`` (default 10) of each over ``COST_WINDOW`` s.
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from billing.plans import PlanName
from streaming import actions
from streaming.models import DestinationStream, StreamSession
from tests.conftest import _fresh_cache  # noqa: F401 - autouse fixture of the suite
from tests.ffmpeg_commands import build_copy_relay_command
from tests.rtmp_stack import Publisher, SinkServer
from tests.streaming.conftest import (
    FAST,
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
FROZEN_RUNS = int(os.environ.get("FROZEN_RUNS", "20"))
COST_DESTINATIONS = int(os.environ.get("COST_DESTINATIONS", "10"))
COST_WINDOW = float(os.environ.get("COST_WINDOW", "30"))
TICKS = os.sysconf("SC_CLK_TCK")
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


def test_bench_frozen_relay_replaced(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # Every freeze spends one retry: the budget refills after 3 s of healthy streaming (60 s in
    # production), and each run waits for that, or 20 freezes would end in ERROR by design.
    monkeypatch.setitem(FAST, "STREAM_HEALTHY_REFILL_SECONDS", "3")
    node = engine.add_node("z")
    user, key = creator("frozen@example.com", PlanName.PRO)
    detected: list[float] = []
    live_again: list[float] = []
    media_back: list[float] = []
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("z-key"), "z")
        recording = sink.recording("z-key")
        with Publisher(node.ingest.url(key), keyframe_seconds=2):
            for _ in range(FROZEN_RUNS):
                wait_for(lambda: states(user) == {"z": "LIVE"}, 60, "LIVE")
                wait_for(
                    lambda: DestinationStream.objects.get(session=session_of(user)).attempts == 0,
                    30,
                    "the retry budget refilled",
                )
                time.sleep(1)
                row = DestinationStream.objects.get(session=session_of(user))
                pid = row.process_id
                assert pid
                frozen_at = recording.stat()
                t0 = time.monotonic()
                os.kill(pid, signal.SIGSTOP)
                wait_for(
                    lambda p=pid, k=row.pk: DestinationStream.objects.get(pk=k).process_id != p,
                    30,
                    "replacement",
                )
                detected.append(time.monotonic() - t0)
                # The sink rewrites its file for the replacement's publish: media is back when the
                # file changed and holds a video frame again.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    now = recording.stat()
                    changed = (now.st_ino, now.st_size) != (frozen_at.st_ino, frozen_at.st_size)
                    if changed and now.st_size < frozen_at.st_size and sink.first_video_tag("z-key"):
                        break
                    time.sleep(0.01)
                media_back.append(time.monotonic() - t0)
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
    within = sum(t <= 5.0 for t in media_back)
    print(f"\n(b) SIGSTOP -> replacement relay started, {FROZEN_RUNS} runs: {_stats(detected)}")
    print(
        f"    SIGSTOP -> video back at the sink, {FROZEN_RUNS} runs: {_stats(media_back)};"
        f" within 5 s: {within} of {FROZEN_RUNS}"
    )
    print("    runs:", ", ".join(f"{t:.2f}" for t in media_back))
    print(f"    SIGSTOP -> replacement's first progress (LIVE), {FROZEN_RUNS} runs: {_stats(live_again)}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def test_bench_supervised_destination_cost(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # The lease and heartbeat as in production (the suite's workers beat every second).
    monkeypatch.setitem(FAST, "STREAM_LEASE_SECONDS", "8")
    monkeypatch.setitem(FAST, "STREAM_HEARTBEAT_SECONDS", "2")
    node = engine.add_node("c")
    user, key = creator("cost@example.com", PlanName.BUSINESS)
    n = COST_DESTINATIONS
    # The worker with nothing to supervise (Celery's own upkeep), for comparison.
    assert node.worker.proc is not None
    time.sleep(5)
    idle_before = cpu_seconds(node.worker.proc.pid)
    time.sleep(COST_WINDOW / 2)
    idle = (cpu_seconds(node.worker.proc.pid) - idle_before) / (COST_WINDOW / 2) * 100
    with SinkServer() as sink:
        for i in range(n):
            add_sink_destination(user, sink.url(f"c{i}"), f"c{i}")
        with Publisher(node.ingest.url(key), width=1280, height=720, video_kbps=2500, keyframe_seconds=2):
            wait_for(lambda: set(states(user).values()) == {"LIVE"}, 60, "every destination LIVE")
            session = session_of(user)
            assert session is not None
            source = node.ingest.url(session.stream_name)
            bare = [
                subprocess.Popen(
                    build_copy_relay_command(source, sink.url(f"b{i}")),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                for i in range(n)
            ]
            try:
                time.sleep(5)
                relays = list(
                    DestinationStream.objects.filter(session=session).values_list("process_id", flat=True)
                )
                worker = node.worker.proc.pid  # type: ignore[union-attr]
                groups = {
                    "supervised": [worker, *relays],
                    "relays": list(relays),
                    "worker": [worker],
                    "bare": [r.pid for r in bare],
                }
                before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in groups.items()}
                time.sleep(COST_WINDOW)
                after = {name: sum(cpu_seconds(p) for p in pids) for name, pids in groups.items()}
            finally:
                for relay in bare:
                    relay.kill()
                    relay.wait(timeout=10)
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 30, "ENDED")  # type: ignore[union-attr]
    per = {name: (after[name] - before[name]) / n / COST_WINDOW * 100 for name in groups}
    print(f"\n(d) {n} copy destinations, {COST_WINDOW:.0f} s, % of a core per destination:")
    print(f"    supervised (media worker + relay): {per['supervised']:.3f}")
    print(f"      of which the relay {per['relays']:.3f}, the media worker {per['worker']:.3f}")
    print(f"    bare ffmpeg -c copy:               {per['bare']:.3f}")
    print(f"    ratio: {per['supervised'] / per['bare']:.2f}x")
    print(f"    the media worker idle (nothing supervised): {idle:.3f} % of a core in all")


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
