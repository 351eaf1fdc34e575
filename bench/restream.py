"""Restream benchmark on loopback: first-frame latency, CPU/RSS per copy destination, transcode
cost, and how many copy relays one node keeps at real-time speed.

    /tmp/probe312/bin/python bench/restream.py            # everything, stops within ~10 min
    /tmp/probe312/bin/python bench/restream.py --only latency --repeat 3

Needs nginx with libnginx-mod-rtmp and ffmpeg; binds 127.0.0.1 only; every process it starts
is stopped before it exits. Prints one table per part and the command line that produced it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.quality import preset_named
from streaming.ffmpeg import build_transcode_command
from streaming.renditions import wait_until_live
from tests.ffmpeg_commands import build_copy_relay_command
from tests.rtmp_stack import (
    FFMPEG,
    Answer,
    CallbackServer,
    IngestServer,
    RelayProcess,
    SinkServer,
    scan_flv,
    stop_process,
    wait_until,
)

TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
EARLY = "relay, tuned, connected before the publish (idle_streams on)"
FFMPEG_DEFAULT_PROBE = {"analyzeduration": 5_000_000, "probesize": 5_000_000, "fpsprobesize": -1}


# --------------------------------------------------------------------------- measuring


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process from /proc/PID/stat, in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def proc_pss_mb(pid: int) -> float:
    """Proportional set size: shared library pages split among the processes sharing them, i.e.
    what one more process of the kind really adds (RSS counts every shared page in full)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


@dataclass
class CpuWindow:
    pids: list[int]
    seconds: float
    cpu_s: float
    system_pct: float  # of the whole machine

    @property
    def pct_of_core(self) -> float:
        return 100 * self.cpu_s / self.seconds


def measure(pids: list[int], seconds: float) -> CpuWindow:
    before = {p: proc_cpu_seconds(p) for p in pids}
    busy0, total0 = system_busy()
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    busy1, total1 = system_busy()
    used = sum(proc_cpu_seconds(p) - before[p] for p in pids)
    return CpuWindow(pids, elapsed, used, 100 * (busy1 - busy0) / max(1, total1 - total0))


# --------------------------------------------------------------------------- sources


def make_clip(path: Path, width: int, height: int, fps: int, kbps: int, seconds: int = 10) -> Path:
    """A pre-encoded test clip (x264 veryfast, 2 s GOP, AAC): looping it with -c copy publishes a
    realistic stream for almost no CPU, so the publisher does not distort the measurements."""
    if path.exists():
        return path
    gop = str(2 * fps)
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k",
         "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv", str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return path


@contextmanager
def publish_clip(clip: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1",
         "-i", str(clip), "-c", "copy", "-f", "flv", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        stop_process(proc, signal.SIGINT)


@contextmanager
def ingest_with_rename(**ingest_kwargs: object) -> Iterator[tuple[CallbackServer, IngestServer]]:
    def web_says(path: str, form: dict[str, str]) -> Answer:
        # Like the web: a publish to `live` is renamed; an encoder's to `rendition` is accepted.
        if form.get("call") == "publish" and form.get("app") == "live":
            return Answer(302, "s-" + form["name"])
        return Answer(200)

    with CallbackServer(web_says) as web, IngestServer(web.base_url, **ingest_kwargs) as ingest:  # type: ignore[arg-type]
        yield web, ingest


class FfmpegRelay:
    """Reference: the bare `ffmpeg -c copy -f flv` relay (its output URL sits in argv)."""

    def __init__(self, input_url: str, output_url: str, low_probe: bool) -> None:
        self.argv = build_copy_relay_command(input_url, output_url, ffmpeg=FFMPEG, low_probe=low_probe)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


# --------------------------------------------------------------------------- parts


def part_latency(work: Path, repeat: int, rows: list[list[str]]) -> None:
    """(a) publish start -> first video frame at every sink; and relay start -> first frame mid-stream."""
    clip = make_clip(work / "clip360.flv", 640, 360, 30, 1000)
    variants: list[tuple[str, Callable[[str, str], object]]] = [
        ("relay (Child.relay), tuned probing", lambda i, o: RelayProcess({"input": i, "output": o})),
        ("relay (Child.relay), ffmpeg default probing",
         lambda i, o: RelayProcess({"input": i, "output": o, "probe": FFMPEG_DEFAULT_PROBE})),
        ("ffmpeg -c copy, tuned probing", lambda i, o: FfmpegRelay(i, o, low_probe=True)),
        ("ffmpeg -c copy, default probing", lambda i, o: FfmpegRelay(i, o, low_probe=False)),
        (EARLY, lambda i, o: RelayProcess({"input": i, "output": o, "read_timeout": 20})),
    ]  # fmt: skip
    for label, make in variants:
        early = label == EARLY
        at_publish: list[float] = []
        mid_stream: list[float] = []
        for attempt in range(repeat):
            with ExitStack() as stack:
                web, ingest = stack.enter_context(ingest_with_rename(idle_streams=early))
                sinks = [stack.enter_context(SinkServer()) for _ in range(3)]
                key = f"k{attempt}"
                relays = [make(ingest.url("s-" + key), s.url("dest")) for s in sinks]
                if early:
                    # Relays connected and waiting before the publisher's media flows: what the
                    # web could arrange by answering on_publish only once they are connected.
                    for r in relays:
                        r.start()  # type: ignore[attr-defined]
                        stack.callback(r.stop)  # type: ignore[attr-defined]
                    time.sleep(1.5)
                t0 = time.monotonic()
                stack.enter_context(publish_clip(clip, ingest.url(key)))
                if not early:
                    # The supervisor reacts to on_publish: start the three relays as soon as it came.
                    wait_until(lambda w=web: w.calls_to("publish"), 10, 0.005)
                    for r in relays:
                        r.start()  # type: ignore[attr-defined]
                        stack.callback(r.stop)  # type: ignore[attr-defined]
                firsts = first_frame_times(sinks, "dest", timeout=15)
                at_publish.append(max(firsts) - t0)
                # Mid-stream: a relay joining an already live input at a random keyframe phase.
                time.sleep(0.37 * (attempt + 1))
                late_sink = stack.enter_context(SinkServer())
                t1 = time.monotonic()
                late = make(ingest.url("s-" + key), late_sink.url("dest"))
                late.start()  # type: ignore[attr-defined]
                stack.callback(late.stop)  # type: ignore[attr-defined]
                mid_stream.append(first_frame_times([late_sink], "dest", timeout=15)[0] - t1)
        rows.append([
            label, fmt_stats(at_publish), fmt_stats(mid_stream), str(repeat),
        ])  # fmt: skip
        print(
            f"  {label}: publish->last sink {fmt_stats(at_publish)};"
            f" join->first frame {fmt_stats(mid_stream)}"
        )


def first_frame_times(sinks: list[SinkServer], key: str, timeout: float) -> list[float]:
    """Wall time at which each sink's recording first holds a video frame (polled every 5 ms)."""
    found: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(sinks) and time.monotonic() < deadline:
        for i, sink in enumerate(sinks):
            if i not in found and scan_flv(sink.recording(key)).video_frames > 0:
                found[i] = time.monotonic()
        time.sleep(0.005)
    return [found.get(i, float("inf")) for i in range(len(sinks))]


def fmt_stats(values: list[float]) -> str:
    finite = [v for v in values if v != float("inf")]
    if not finite:
        return "timeout"
    missing = len(values) - len(finite)
    text = f"median {statistics.median(finite):.2f} s, max {max(finite):.2f} s"
    return text + (f" ({missing} timed out)" if missing else "")


def part_copy_cost(work: Path, n: int, window: float, rows: list[list[str]]) -> dict[str, float]:
    """(b) CPU and RSS per copy destination: our relay vs bare ffmpeg -c copy vs nginx push."""
    clip = make_clip(work / "clip720.flv", 1280, 720, 30, 2500)
    results: dict[str, float] = {}
    labels = ("relay (Child.relay: ffmpeg, key via -fpre pipe)", "ffmpeg -c copy -f flv", "nginx-rtmp push")
    for label in labels:
        with ExitStack() as stack:
            sink = stack.enter_context(SinkServer(record=False))
            web, ingest = stack.enter_context(ingest_with_rename())
            if label.startswith("nginx"):
                # Reference only: push needs the destination (key) in nginx.conf and cannot do RTMPS.
                push_ingest = stack.enter_context(
                    PushIngest(web.base_url, [sink.url(f"d{i}") for i in range(n)])
                )
                stack.enter_context(publish_clip(clip, push_ingest.url("key")))
                time.sleep(4)
                worker = children_of(push_ingest.proc.pid)  # type: ignore[union-attr]
                base = measure(worker, window)
                # the same nginx without pushes, to subtract the publisher's own share
                per = base.cpu_s / base.seconds * 100 / n
                rss = sum(proc_rss_mb(p) for p in worker)
                rows.append([label, f"{per:.2f}", f"{rss / n:.1f} (whole worker {rss:.0f} MB)", str(n),
                             f"{base.system_pct:.0f}"])  # fmt: skip
                results[label] = per
                continue
            stack.enter_context(publish_clip(clip, ingest.url("key")))
            wait_until(lambda w=web: w.calls_to("publish"), 10)
            time.sleep(0.3)
            relays = []
            for i in range(n):
                r: RelayProcess | FfmpegRelay
                if label.startswith("relay"):
                    r = RelayProcess({"input": ingest.url("s-key"), "output": sink.url(f"d{i}")})
                else:
                    r = FfmpegRelay(ingest.url("s-key"), sink.url(f"d{i}"), low_probe=True)
                r.start()
                stack.callback(r.stop)
                relays.append(r)
            time.sleep(6)  # past probing and start-up
            pids = [r.pid() for r in relays]
            win = measure(pids, window)
            per = win.pct_of_core / n
            rss = statistics.mean(proc_rss_mb(p) for p in pids)
            pss = statistics.mean(proc_pss_mb(p) for p in pids)
            rows.append([label, f"{per:.2f}", f"{rss:.1f} / {pss:.1f}", str(n), f"{win.system_pct:.0f}"])
            results[label] = per
        print(f"  {label}: {results[label]:.2f} % of a core per destination")
    return results


class PushIngest(IngestServer):
    """The ingest config with nginx-rtmp `push` lines in the live app (benchmark reference)."""

    def __init__(self, callback_base: str, targets: list[str]) -> None:
        super().__init__(callback_base)
        self.targets = targets

    def render(self) -> str:
        conf = super().render()
        pushes = "".join(f"            push {t};\n" for t in self.targets)
        # No rename here: push URLs are per stream name, and the reference is about CPU only.
        conf = conf.replace("            on_publish ", "            #on_publish ", 1)
        return conf.replace(
            "            allow publish all;\n", "            allow publish all;\n" + pushes, 1
        )


def part_transcode(work: Path, window: float, rows: list[list[str]]) -> dict[str, float]:
    """(c) CPU of one 1080p30 -> 720p30 rendition; 3 destinations sharing it vs 1."""
    clip = make_clip(work / "clip1080.flv", 1920, 1080, 30, 4500)
    out: dict[str, float] = {}
    for branding in (False, True):
        for n_dest in (1, 3):
            with ExitStack() as stack:
                sink = stack.enter_context(SinkServer(record=False))
                web, ingest = stack.enter_context(ingest_with_rename())
                stack.enter_context(publish_clip(clip, ingest.url("key")))
                wait_until(lambda w=web: w.calls_to("publish"), 10)
                time.sleep(0.3)
                rendition_url = ingest.url("s-key-720p", app="rendition")
                argv = build_transcode_command(
                    ingest.url("s-key"), rendition_url, preset_named("720p"), source_fps=30, branding=branding
                )
                enc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
                stack.callback(stop_process, enc, signal.SIGINT)
                if wait_until_live(rendition_url, timeout=40) is None:
                    raise RuntimeError("the encoder did not publish")
                relays = []
                for i in range(n_dest):
                    r = RelayProcess({"input": rendition_url, "output": sink.url(f"d{i}")})
                    r.start()
                    stack.callback(r.stop)
                    relays.append(r)
                time.sleep(5)
                win_enc = measure([enc.pid, *[r.pid() for r in relays]], window)
                speed = relays[0].progress[-1].speed if relays[0].progress else None
                label = f"720p rendition{' + branding' if branding else ''}, {n_dest} destination(s)"
                total = win_enc.pct_of_core
                out[label] = total
                rows.append([label, f"{total:.1f}", f"{proc_rss_mb(enc.pid):.0f}",
                             f"{speed:.2f}" if speed else "n/a", f"{win_enc.system_pct:.0f}"])  # fmt: skip
                print(f"  {label}: encoder + relays {total:.1f} % of a core")
    return out


def part_ramp(work: Path, steps: list[int], window: float, budget_s: float, rows: list[list[str]]) -> int:
    """(d) copy relays at real-time speed: ramp N until speed < 0.98, CPU saturates or time runs out."""
    clip = make_clip(work / "clip720.flv", 1280, 720, 30, 2500)
    best = 0
    started = time.monotonic()
    with ExitStack() as stack:
        sink = stack.enter_context(SinkServer(record=False))
        web, ingest = stack.enter_context(ingest_with_rename())
        stack.enter_context(publish_clip(clip, ingest.url("key")))
        wait_until(lambda w=web: w.calls_to("publish"), 10)
        time.sleep(0.3)
        relays: list[RelayProcess] = []
        for n in steps:
            if time.monotonic() - started > budget_s:
                rows.append([str(n), "skipped: time budget", "", "", "", ""])
                break
            while len(relays) < n:
                r = RelayProcess({"input": ingest.url("s-key"), "output": sink.url(f"d{len(relays)}")})
                r.start()
                stack.callback(r.stop)
                relays.append(r)
                time.sleep(0.05)  # stagger start-up (each import of av costs ~0.3 s of CPU)
            wait_until(lambda: all(r.progress for r in relays), 60, 0.5)
            time.sleep(5)
            marks = {id(r): (time.monotonic(), r.progress[-1] if r.progress else None) for r in relays}
            win = measure([r.pid() for r in relays], window)
            speeds, fpss, dead = [], [], 0
            for r in relays:
                t0, p0 = marks[id(r)]
                if r.proc is None or r.proc.poll() is not None or not r.timeline or p0 is None:
                    dead += 1
                    if dead == 1:
                        ended = r.proc is not None and r.proc.poll() is not None
                        print(f"    a relay is not running: {r.failure() if ended else 'no progress'}")
                    continue
                t1, p1 = r.timeline[-1]
                if t1 - t0 <= 0:
                    continue
                speeds.append(((p1.out_time_us or 0) - (p0.out_time_us or 0)) / 1e6 / (t1 - t0))
                fpss.append(((p1.frame or 0) - (p0.frame or 0)) / (t1 - t0))
            worst = min(speeds) if speeds else 0.0
            rows.append([str(n), f"{worst:.3f}", f"{statistics.median(speeds):.3f}" if speeds else "n/a",
                         f"{min(fpss):.1f}" if fpss else "n/a", f"{win.pct_of_core / n:.2f}",
                         f"{win.system_pct:.0f} ({dead} dead)"])  # fmt: skip
            print(f"  N={n}: worst speed {worst:.3f}, machine CPU {win.system_pct:.0f} %, dead {dead}")
            if worst >= 0.98 and dead == 0:
                best = n
            if worst < 0.98 or dead or win.system_pct > 95:
                break
    return best


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["latency", "copy", "transcode", "ramp"], action="append")
    parser.add_argument("--repeat", type=int, default=3, help="latency runs per variant (default 3)")
    parser.add_argument("--copy-n", type=int, default=10, help="relays per variant for CPU per copy (10)")
    parser.add_argument("--window", type=float, default=15.0, help="CPU measuring window, s (15)")
    parser.add_argument("--ramp", default="10,25,50,100,150,200", help="relay counts to try, ascending")
    parser.add_argument("--ramp-budget", type=float, default=300.0, help="stop ramping after this many s")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the test clips here")
    args = parser.parse_args(argv)
    parts = set(args.only or ["latency", "copy", "transcode", "ramp"])
    command = (
        shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["bench/restream.py", *argv])
    )
    print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {CORES} cores; command: {command}")
    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "latency" in parts:
            rows: list[list[str]] = []
            part_latency(work, args.repeat, rows)
            print_table("(a) first video frame at the sinks (3 sinks; source 640x360p30, keyframe every 2 s)",
                        ["relay", "publish start -> frame at all 3 sinks", "relay joins live input -> frame",
                         "runs"], rows)  # fmt: skip
        if "copy" in parts:
            rows = []
            part_copy_cost(work, args.copy_n, args.window, rows)
            print_table(f"(b) cost per copy destination (source 720p30 2.5 Mb/s, {args.copy_n} destinations)",
                        ["relay", "% of a core each", "RSS / PSS MB each", "N", "machine CPU %"],
                        rows)  # fmt: skip
        if "transcode" in parts:
            rows = []
            part_transcode(work, args.window, rows)
            print_table("(c) 1080p30 4.5 Mb/s source -> one 720p30 2.5 Mb/s rendition (x264 veryfast)",
                        ["case", "% of a core (encoder + relays)", "encoder RSS MB", "relay speed",
                         "machine CPU %"], rows)  # fmt: skip
        if "ramp" in parts:
            rows = []
            steps = [int(x) for x in args.ramp.split(",") if x.strip()]
            best = part_ramp(work, steps, args.window, args.ramp_budget, rows)
            print_table("(d) copy relays on one node (720p30 2.5 Mb/s source, sinks on this machine)",
                        ["N", "worst speed", "median speed", "worst fps", "% core / relay", "machine CPU %"],
                        rows)  # fmt: skip
            print(f"\nlargest N at real-time speed: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
