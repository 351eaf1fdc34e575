"""WHIP ingest benchmark (not a test): the media node's cost per studio stream, the re-encode
fallback's, and the delay from a frame leaving the sender to a reader of the ingest, side by side
with an OBS-style RTMP publisher of the same encoded stream, in the same run.

Stack on loopback: nginx-rtmp with the production config (tests/rtmp_stack.IngestServer) whose
callbacks accept every publish; the WHIP server in its own process (``--serve``: the production
``WhipServer``, sessions and publisher thread; only the POST's database look-ups are replaced by a
fixed publisher, as no database is needed to measure media); an aiortc client in this process that
sends a pre-encoded clip (testsrc2, x264 veryfast Constrained Baseline 2.5 Mb/s at 720p30, 4.5 Mb/s
at 1080p30, keyframe every 2 s; VP8 1.5/3 Mb/s for the fallback) as packets, so the client costs
almost nothing, plus an Opus tone. Every 3 s the clip flashes a white box in its top-left corner;
the sender notes when that frame leaves, a reader of the ingest (PyAV, in this process) notes when
it decodes it: the difference is the delay. The OBS-style publisher muxes the same H.264 packets to
FLV over RTMP from this process, paced the same way.

CPU: utime+stime from /proc over a window, for the WHIP server and nginx's worker (the media node's
share of an OBS-style stream is nginx alone).

    .venv/bin/python bench/whip.py                 # everything (~3 min)
    .venv/bin/python bench/whip.py --only latency  # or cost
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import fractions
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ENV_FILE", "/dev/null")

import django

django.setup()

import av  # noqa: E402
from aiortc import (  # noqa: E402
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import VIDEO_TIME_BASE  # noqa: E402

from tests.rtmp_stack import FFMPEG, Answer, CallbackServer, IngestServer, free_port, wait_for_port  # noqa: E402
from tests.whip.client import ToneTrack, whip_request  # noqa: E402
from whip import ice, passthrough  # noqa: E402

FPS = 30
FLASH_EVERY = 90  # frames: one flash every 3 s, so a delay up to 3 s is matched unambiguously
BOX = 160
KEY = "live_benchkey"
CLIPS = {  # (width, height, codec) -> bitrate
    (1280, 720, "h264"): "2500k",
    (1920, 1080, "h264"): "4500k",
    (1280, 720, "vp8"): "1500k",
    (1920, 1080, "vp8"): "3000k",
}


# ------------------------------------------------------------------ the node (--serve)


def serve(port: int, rtmp_port: int) -> None:
    from whip import server as whip_server
    from whip.credentials import Publisher
    from whip.http import start_http_server
    from whip.management.commands.whip_server import server_from_settings

    async def no_database(fn, *args):  # type: ignore[no-untyped-def]
        if fn.__name__ == "publisher_for":
            return Publisher(user_id=1, via="bench", ingest_key=args[0])
        return None  # refusal_before_publish: nothing to refuse

    whip_server.in_thread = no_database
    passthrough.install()
    ice.pin_host_addresses(["127.0.0.1"])

    async def main() -> None:
        from django.conf import settings

        settings.RTMP_PORT = rtmp_port
        node = server_from_settings()
        await start_http_server(node.handle, "127.0.0.1", port)
        await asyncio.Event().wait()

    asyncio.run(main())


# ------------------------------------------------------------------ clips and senders


def make_clip(tmp: Path, width: int, height: int, codec: str) -> Path:
    path = tmp / f"clip-{width}x{height}.{'h264' if codec == 'h264' else 'ivf'}"
    if path.exists():
        return path
    box = f"drawbox=x=0:y=0:w={BOX}:h={BOX}:t=fill"
    flash = f"{box}:color=black,{box}:color=white:enable='eq(mod(n\\,{FLASH_EVERY})\\,0)'"
    src = f"testsrc2=size={width}x{height}:rate={FPS},{flash}"
    rate = CLIPS[(width, height, codec)]
    if codec == "h264":
        enc = [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "baseline",
            "-b:v",
            rate,
            "-maxrate",
            rate,
            "-bufsize",
            rate,
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-sc_threshold",
            "0",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
        ]
    else:
        enc = [
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            rate,
            "-g",
            "60",
            "-f",
            "ivf",
        ]
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", "12", *enc, str(path)], check=True
    )
    return path


def load_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


class ClipTrack(MediaStreamTrack):
    """Loops pre-encoded packets at 30 fps; notes when each flash frame leaves."""

    kind = "video"

    def __init__(self, packets: list[bytes]) -> None:
        super().__init__()
        self.packets = packets
        self.n = 0
        self.start: float | None = None
        self.flashes: list[float] = []

    async def recv(self) -> av.Packet:
        if self.start is None:
            self.start = time.monotonic()
        wait = self.start + self.n / FPS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self.packets[self.n % len(self.packets)])
        packet.pts = self.n * 90000 // FPS
        packet.time_base = VIDEO_TIME_BASE
        if self.n % len(self.packets) % FLASH_EVERY == 0:
            self.flashes.append(time.monotonic())
        self.n += 1
        return packet


@dataclass
class WhipSender:
    endpoint: str
    packets: list[bytes]
    codec: str
    loop: asyncio.AbstractEventLoop
    track: ClipTrack = field(init=False)

    def start(self) -> None:
        self.track = ClipTrack(self.packets)
        fut = asyncio.run_coroutine_threadsafe(self._offer(), self.loop)
        offer = fut.result(30)
        answer = whip_request(self.endpoint, "POST", KEY, offer)
        assert answer.status == 201, answer
        asyncio.run_coroutine_threadsafe(
            self.pc.setRemoteDescription(RTCSessionDescription(answer.body, "answer")), self.loop
        ).result(30)
        self.location = answer.headers["location"]

    async def _offer(self) -> str:
        ice.pin_host_addresses(["127.0.0.1"])
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        video = self.pc.addTransceiver(self.track, direction="sendonly")
        mime = "video/H264" if self.codec == "h264" else "video/VP8"
        video.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == mime]
        )
        self.pc.addTransceiver(ToneTrack(), direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    def stop(self) -> None:
        whip_request(self.location, "DELETE", KEY)
        asyncio.run_coroutine_threadsafe(self.pc.close(), self.loop).result(20)


class RtmpSender(threading.Thread):
    """OBS-style: the same H.264 packets muxed to FLV over RTMP, paced at 30 fps."""

    def __init__(self, url: str, packets: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.url, self.packets = url, packets
        self.flashes: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import io

        with av.open(io.BytesIO(self.packets[0]), format="h264") as probe:
            template = probe.streams.video[0]
            out = av.open(self.url, "w", format="flv")
            stream = out.add_stream_from_template(template)
        stream.time_base = fractions.Fraction(1, 1000)
        # Audio as OBS sends it (AAC), a quiet tone's worth of silence: readers expect both streams.
        audio = out.add_stream("aac", rate=48000, layout="stereo")
        silence = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        for plane in silence.planes:
            plane.update(bytes(plane.buffer_size))
        silence.sample_rate = 48000
        start, n, samples = time.monotonic(), 0, 0
        while not self.stopping.is_set():
            wait = start + n / FPS - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            while samples <= n * 48000 // FPS:
                silence.pts, silence.time_base = samples, fractions.Fraction(1, 48000)
                out.mux(audio.encode(silence))
                samples += 1024
            packet = av.Packet(self.packets[n % len(self.packets)])
            packet.stream, packet.time_base = stream, fractions.Fraction(1, 1000)
            packet.pts = packet.dts = n * 1000 // FPS
            packet.is_keyframe = passthrough.is_h264_keyframe(bytes(packet))
            if n % len(self.packets) % FLASH_EVERY == 0:
                self.flashes.append(time.monotonic())
            out.mux(packet)
            n += 1
        out.close()


class FlashReader(threading.Thread):
    """Plays a stream from the ingest and notes when each flash frame is decoded."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._read()
            except av.FFmpegError as exc:
                print(f"  (reader: {exc}; again)", file=sys.stderr)
                time.sleep(0.5)

    def _read(self) -> None:
        # Probing must outlast a keyframe interval (2 s): nginx starts a reader's video at a keyframe.
        options = {"analyzeduration": "6000000", "probesize": "10000000", "fpsprobesize": "0"}
        with av.open(self.url, options=options, timeout=(20, 10)) as container:
            lit = False
            for frame in container.decode(video=0):
                if self.stopping.is_set():
                    return
                y = frame.planes[0]
                row = bytes(y)[(BOX // 2) * y.line_size : (BOX // 2) * y.line_size + BOX // 2]
                bright = sum(row) / len(row) > 180
                if bright and not lit:
                    self.seen.append(time.monotonic())
                lit = bright


def delays(sent: list[float], seen: list[float]) -> list[float]:
    out = []
    for t in seen:
        before = [s for s in sent if s <= t]
        if before:
            out.append(t - before[-1])
    return out


# ------------------------------------------------------------------ measuring


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def nginx_worker(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0]) if children else master


def window(pids: dict[str, int], seconds: float) -> dict[str, float]:
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    time.sleep(seconds)
    return {k: 100 * (cpu_seconds(p) - before[k]) / seconds for k, p in pids.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["cost", "latency"])
    parser.add_argument("--window", type=float, default=20.0, help="seconds of CPU measured per case")
    parser.add_argument("--serve", nargs=2, type=int, metavar=("PORT", "RTMP_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  {shlex.join(sys.argv)}")
    print(f"# PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}, load average {os.getloadavg()[0]:.1f}")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    with (
        tempfile.TemporaryDirectory(prefix="prism-bench-whip-") as tmp_name,
        CallbackServer(lambda path, form: Answer(200)) as callbacks,
        IngestServer(callbacks.base_url) as ingest,
    ):
        tmp = Path(tmp_name)
        port = free_port()
        env = {**os.environ, "WHIP_PUBLIC_URL": f"http://127.0.0.1:{port}/whip"}
        node = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(ingest.port)], env=env)
        try:
            wait_for_port(port, timeout=30)
            endpoint = f"http://127.0.0.1:{port}/whip"
            pids = {"whip": node.pid, "nginx": nginx_worker(ingest.proc.pid)}  # type: ignore[union-attr]
            idle = window(pids, 5)
            print(f"\nidle: WHIP server {idle['whip']:.1f} % of a core, RSS {rss_mb(node.pid):.0f} MB")
            if args.only in (None, "cost"):
                print(
                    "\n| stream | WHIP server CPU (% of a core) | WHIP server RSS (MB) | nginx worker CPU |"
                )
                print("|---|---|---|---|")
                for width, height, codec in [
                    (1280, 720, "h264"),
                    (1920, 1080, "h264"),
                    (1280, 720, "vp8"),
                    (1920, 1080, "vp8"),
                ]:
                    packets = load_packets(make_clip(tmp, width, height, codec))
                    sender = WhipSender(endpoint, packets, codec, loop)
                    sender.start()
                    time.sleep(5)  # ICE, DTLS, first keyframe, the publish
                    cpu = window(pids, args.window)
                    rss = rss_mb(node.pid)
                    sender.stop()
                    label = (
                        f"{height}p30 {'H.264 kept' if codec == 'h264' else 'VP8 re-encoded (x264 veryfast)'}"
                    )
                    print(f"| {label} | {cpu['whip'] - idle['whip']:.1f} | {rss:.0f} | {cpu['nginx']:.1f} |")
                    time.sleep(2)
                packets = load_packets(make_clip(tmp, 1280, 720, "h264"))
                obs = RtmpSender(ingest.url("obs-style"), packets)
                obs.start()
                time.sleep(3)
                cpu = window(pids, args.window)
                obs.stopping.set()
                obs.join(10)
                whip_cpu = cpu["whip"] - idle["whip"]
                label = "720p30 OBS-style RTMP, same H.264"
                print(f"| {label} | {whip_cpu:.1f} (not involved) | | {cpu['nginx']:.1f} |")
            if args.only in (None, "latency"):
                print("\n| path | frame leaves the sender → decoded by a reader of the ingest (s) |")
                print("|---|---|")
                for codec in ("h264", "vp8"):
                    packets = load_packets(make_clip(tmp, 1280, 720, codec))
                    sender = WhipSender(endpoint, packets, codec, loop)
                    sender.start()
                    reader = FlashReader(ingest.url(KEY))
                    reader.start()
                    time.sleep(args.window)
                    reader.stopping.set()
                    sender.stop()
                    reader.join(10)
                    d = delays(sender.track.flashes, reader.seen)
                    label = "WHIP 720p30 H.264 kept" if codec == "h264" else "WHIP 720p30 VP8 re-encoded"
                    print(f"| {label} | {summary(d)} |")
                    time.sleep(2)
                packets = load_packets(make_clip(tmp, 1280, 720, "h264"))
                obs = RtmpSender(ingest.url("obs-style"), packets)
                obs.start()
                reader = FlashReader(ingest.url("obs-style"))
                reader.start()
                time.sleep(args.window)
                reader.stopping.set()
                obs.stopping.set()
                obs.join(10)
                reader.join(10)
                print(f"| OBS-style RTMP 720p30 (same H.264) | {summary(delays(obs.flashes, reader.seen))} |")
        finally:
            node.terminate()
            node.wait(20)


def summary(values: list[float]) -> str:
    if not values:
        return "no flash seen"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f}), n={len(values)}"


if __name__ == "__main__":
    main()
