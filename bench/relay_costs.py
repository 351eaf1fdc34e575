"""Two small measurements behind docs/performance.md; prints numbers, asserts nothing.

    .venv/bin/python bench/relay_costs.py [--window 30] [--pairs 5]

(1) open: how long a relay takes from its spawn until nginx-rtmp announces its play (on_play),
    i.e. what the on_publish hold waits for per relay (process start, RTMP open).
(2) cpu: N relays as the supervisor starts them (``Child.relay``: FFmpeg, key through a pipe,
    progress read) and N bare ``ffmpeg -c copy`` relays (key in argv) side by side on one
    720p30 2.5 Mb/s source, user and system CPU from /proc over the window; and this process's
    own CPU per relay, i.e. the supervisor-side threads that read each relay's progress.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "bench")]

import restream  # noqa: E402

from tests.rtmp_stack import Answer, CallbackServer, IngestServer, RelayProcess, SinkServer, wait_until  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def user_system_seconds(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def measure_open(runs: int) -> list[float]:
    times = []
    with CallbackServer(lambda path, form: Answer(200)) as web, IngestServer(web.base_url) as ingest:
        for i in range(runs):
            job = {"input": ingest.url(f"s-open{i}") + "?reader=d1", "output": "rtmp://127.0.0.1:1/a/b"}
            started = time.monotonic()
            relay = RelayProcess({**job, "read_timeout": 2})
            relay.start()
            assert wait_until(lambda n=i: len(web.calls_to("play")) > n, 10, 0.002)
            times.append(time.monotonic() - started)
            relay.stop(signal.SIGKILL)
    return times


def measure_cpu(work: Path, pairs: int, window: float) -> dict[str, tuple[float, float]]:
    clip = restream.make_clip(work / "clip720.flv", 1280, 720, 30, 2500)
    with (
        restream.ingest_with_rename() as (web, ingest),
        SinkServer() as sink,
        restream.publish_clip(clip, ingest.url("k")),
    ):
        assert wait_until(lambda: web.calls_to("publish"), 10)
        time.sleep(0.5)
        relays = [
            RelayProcess({"input": ingest.url("s-k"), "output": sink.url(f"r{i}")}) for i in range(pairs)
        ]
        bare = [
            restream.FfmpegRelay(ingest.url("s-k"), sink.url(f"f{i}"), low_probe=True) for i in range(pairs)
        ]
        for relay in [*relays, *bare]:
            relay.start()
        try:
            time.sleep(4)
            pids = {
                "relay (Child.relay)": [r.pid() for r in relays],
                "ffmpeg -c copy": [f.pid() for f in bare],
            }
            before = {pid: user_system_seconds(pid) for group in pids.values() for pid in group}
            own_before = os.times()
            time.sleep(window)
            own_after = os.times()
            after = {pid: user_system_seconds(pid) for group in pids.values() for pid in group}
        finally:
            for relay in [*relays, *bare]:
                relay.stop()
    result = {}
    for name, group in pids.items():
        user = statistics.mean(after[p][0] - before[p][0] for p in group) / window * 100
        system = statistics.mean(after[p][1] - before[p][1] for p in group) / window * 100
        result[name] = (user, system)
    # This process hosts the relays' Child reader threads (progress and stderr, as in the media
    # worker) and little else while it sleeps: its CPU over the window, per relay.
    reading = (own_after.user - own_before.user) / pairs / window * 100
    result["Child threads reading one relay (in this process)"] = (
        reading,
        (own_after.system - own_before.system) / pairs / window * 100,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    opens = [round(t * 1000) for t in measure_open(5)]
    print(f"relay spawn -> on_play: median {statistics.median(opens):.0f} ms, runs (ms): {opens}")
    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        work = args.workdir or Path(tmp)
        for name, (user, system) in measure_cpu(work, args.pairs, args.window).items():
            print(f"{name}: user {user:.3f} % + system {system:.3f} % = {user + system:.3f} % of a core each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
