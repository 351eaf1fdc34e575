"""Real RTMP servers, publishers and relays on loopback for tests and benchmarks (no Django).

Everything here starts real processes (nginx with libnginx-mod-rtmp, ffmpeg, relays)
bound to 127.0.0.1 on free ports, inside a temp dir, and stops them when the ``with`` block
ends, whatever happened inside it. Building blocks:

``CallbackServer``  a tiny HTTP server answering nginx-rtmp's on_publish & co. the way the web
                    would (2xx, 403, or 3xx + Location to rename the stream); records calls.
``IngestServer``    nginx with the production config (``streaming.rtmp_config``).
``SinkServer``      a stand-in platform: nginx recording every published stream to FLV; it can
                    refuse publishes (through a CallbackServer answering 403) or vanish.
``TlsFront``        a TLS terminator in front of a SinkServer: an ``rtmps://`` platform.
``Publisher``       ffmpeg's test pattern + tone at real-time speed, like OBS.
``RelayProcess``    a relay (bare FFmpeg, key through a pipe) started as the supervisor does.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from streaming.processes import Child
from streaming.progress import Progress
from streaming.relay import RelayJob
from streaming.rtmp_config import (
    RTMP_MODULE_PATH,
    RtmpConfig,
    nginx_command,
    prepare_runtime_dir,
    render_nginx_rtmp_config,
    user_and_group,
)
from tests.ffmpeg_commands import build_test_pattern_command

REPO_ROOT = Path(__file__).resolve().parent.parent
NGINX = os.environ.get("PRISM_NGINX", "nginx")
FFMPEG = os.environ.get("PRISM_FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("PRISM_FFPROBE", "ffprobe")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 5.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is truthy (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], sig: int = signal.SIGINT, grace: float = 5.0
) -> int:
    """Send ``sig``, wait ``grace`` seconds, then SIGKILL this process (and its own group)."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                # Started with start_new_session, so the group is ours alone (nginx's worker).
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
    return proc.returncode


class _Managed:
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- callbacks


@dataclass
class Callback:
    path: str
    query: dict[str, str]
    form: dict[str, str]
    status: int
    at: float

    @property
    def call(self) -> str:
        return self.form.get("call", "")


@dataclass
class Answer:
    status: int = 200
    location: str | None = None


class CallbackServer(_Managed):
    """Answers nginx-rtmp's HTTP callbacks with ``decide(path, form) -> Answer``; records them."""

    def __init__(self, decide: Callable[[str, dict[str, str]], Answer] | None = None) -> None:
        self.decide = decide or (lambda path, form: Answer(200))
        self.calls: list[Callback] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                url = urllib.parse.urlsplit(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                try:
                    answer = outer.decide(url.path, form)
                except Exception:
                    answer = Answer(500)
                outer.calls.append(Callback(url.path, query, form, answer.status, time.monotonic()))
                self.send_response(answer.status)
                if answer.location is not None:
                    self.send_header("Location", answer.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def calls_to(self, call: str) -> list[Callback]:
        return [c for c in self.calls if c.call == call]


# --------------------------------------------------------------------------- nginx


class _Nginx(_Managed):
    worker_user: str | None = None  # the user a root-started nginx runs its worker as

    def __init__(self, workdir: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def render(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="prism-nginx-")
            self.workdir = Path(self._tmp.name)
        self.port = self.port or free_port()
        prepare_runtime_dir(self.workdir, self.worker_user if self.worker_user != "root" else None)
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.render())
        self.proc = subprocess.Popen(
            nginx_command(conf, self.workdir, nginx=NGINX),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout=5)
        except TimeoutError:
            stop_process(self.proc, signal.SIGTERM)
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"nginx did not start: {err}{self.error_log()}") from None

    def stop(self) -> None:
        if self.proc is not None:
            # SIGTERM is nginx's fast shutdown: the master closes every connection and waits
            # for its worker, so no worker outlives the test.
            stop_process(self.proc, signal.SIGTERM)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def error_log(self) -> str:
        path = (self.workdir or Path("/nonexistent")) / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _worker_user() -> str | None:
    # As root nginx would drop its worker to `nobody`, which cannot write our private temp dir.
    return "root" if os.geteuid() == 0 else None


class IngestServer(_Nginx):
    """nginx with the production config from streaming.rtmp_config, on a free loopback port."""

    def __init__(
        self,
        callback_base: str,
        *,
        node_name: str = "node1",
        hls_http_port: int | None = None,
        idle_streams: bool = True,
        update_seconds: int = 30,
        workdir: Path | None = None,
        worker_user: str | None = None,
    ) -> None:
        super().__init__(workdir)
        self.control_port = free_port()
        self.worker_user = worker_user or _worker_user()
        self.update_seconds = update_seconds
        self.callback_base = callback_base
        self.node_name = node_name
        self.hls_http_port = hls_http_port
        self.idle_streams = idle_streams

    def render(self) -> str:
        assert self.workdir is not None
        return render_nginx_rtmp_config(
            RtmpConfig(
                rtmp_port=self.port,
                callback_base=self.callback_base,
                runtime_dir=self.workdir,
                node_name=self.node_name,
                hls_http_port=self.hls_http_port,
                listen_host="127.0.0.1",
                user=user_and_group(self.worker_user) if self.worker_user else None,
                idle_streams=self.idle_streams,
                update_seconds=self.update_seconds,
                control_port=self.control_port,
            )
        )

    def url(self, name: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.port}/{app}/{name}"


class SinkServer(_Nginx):
    """A stand-in for a platform's RTMP ingest: records each published stream to ``<name>.flv``.

    ``callback_base``: if given, every publish is checked with on_publish there (answer 403 to
    make it a refusing sink, as a platform refuses a wrong key). With ``update_every`` (an
    nginx time, "1s") on_update is called that often and a non-2xx answer drops the stream.
    """

    APP = "app"

    def __init__(
        self,
        callback_base: str | None = None,
        *,
        update_every: str | None = None,
        record: bool = True,
        workdir: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.callback_base = callback_base
        self.update_every = update_every
        self.record = record

    def render(self) -> str:
        assert self.workdir is not None
        rec = self.workdir / "rec"
        rec.mkdir(exist_ok=True)
        user = _worker_user()
        notify = (
            f"            on_publish {self.callback_base}/sink/on_publish/;\n" if self.callback_base else ""
        )
        if self.callback_base and self.update_every:
            # A platform that takes the publish, then hangs up when on_update answers non-2xx
            # (strict), the way a platform drops a stream whose key it rejects after the fact.
            notify += (
                f"            on_update {self.callback_base}/sink/on_update/;\n"
                f"            notify_update_timeout {self.update_every};\n"
                "            notify_update_strict on;\n"
            )
        return (
            f"load_module {RTMP_MODULE_PATH};\n"
            + (f"user {user};\n" if user else "")
            + "daemon off;\nmaster_process on;\nworker_processes 1;\n"
            f"pid {self.workdir / 'nginx.pid'};\n"
            f"error_log {self.workdir / 'logs' / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "rtmp {\n    access_log off;\n    server {\n"
            f"        listen 127.0.0.1:{self.port};\n"
            "        chunk_size 4096;\n"
            f"        application {self.APP} {{\n"
            "            live on;\n"
            f"            record {'all' if self.record else 'off'};\n"
            f"            record_path {rec};\n"
            "            record_unique off;\n"
            f"{notify}"
            "            allow publish 127.0.0.1;\n            deny publish all;\n"
            "            allow play 127.0.0.1;\n            deny play all;\n"
            "        }\n    }\n}\n"
        )

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/{self.APP}/{key}"

    def recording(self, key: str) -> Path:
        assert self.workdir is not None
        return self.workdir / "rec" / f"{key}.flv"

    def first_video_tag(self, key: str, keyframe: bool = False) -> bool:
        """True once the recording holds a video frame (a keyframe if asked), not just headers."""
        return scan_flv(self.recording(key)).first_frame_ok(keyframe)

    def decoded_frames(self, key: str, timeout: float = 20.0) -> int:
        """How many video frames FFmpeg decodes from the recording so far."""
        return count_decoded_frames(self.recording(key), timeout=timeout)


class TlsFront(_Managed):
    """TLS in front of a local RTMP server, as Facebook's RTMPS-only ingest (self-signed
    certificate: FFmpeg 5.1 does not verify one unless asked). Counts finished handshakes."""

    def __init__(self, backend_port: int) -> None:
        self.backend_port = backend_port
        self.port = 0
        self.handshakes = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def _context(self) -> ssl.SSLContext:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from tests.fakes.certificates import self_signed

        key = ec.generate_private_key(ec.SECP256R1())
        cert = self_signed(key, "127.0.0.1", datetime.timedelta(hours=1), ip="127.0.0.1")
        self._tmp = tempfile.TemporaryDirectory(prefix="prism-tls-")
        cert_path, key_path = Path(self._tmp.name) / "cert.pem", Path(self._tmp.name) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.handshakes += 1  # the server side calls us once the TLS handshake is done
        try:
            backend_r, backend_w = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pump(client_r, backend_w), self._pump(backend_r, client_w))

    def start(self) -> None:
        context = self._context()
        loop = asyncio.new_event_loop()
        self._loop = loop
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context))
        self.port = server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def url(self, key: str, app: str = "app") -> str:
        return f"rtmps://127.0.0.1:{self.port}/{app}/{key}"


@dataclass
class FlvScan:
    video_frames: int = 0
    keyframes: int = 0
    audio_frames: int = 0
    last_video_ms: int = 0

    def first_frame_ok(self, keyframe: bool) -> bool:
        return (self.keyframes if keyframe else self.video_frames) > 0


def scan_flv(path: Path) -> FlvScan:
    """Count FLV media tags in a (possibly still growing) file without decoding anything.

    Cheap enough to poll every few milliseconds, which is how the benchmark timestamps the
    first frame at a sink. Sequence headers (AVC/AAC config) are not counted as frames.
    """
    scan = FlvScan()
    try:
        data = path.read_bytes()
    except OSError:
        return scan
    if len(data) < 13 or data[:3] != b"FLV":
        return scan
    pos = struct.unpack(">I", data[5:9])[0] + 4
    while pos + 11 <= len(data):
        tag_type = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + 11 + size
        if end > len(data):
            break
        body = data[pos + 11 : end]
        if tag_type == 9 and len(body) >= 2 and body[1] == 1:  # AVC NALU (not the seq header)
            scan.video_frames += 1
            scan.last_video_ms = ts
            if body[0] >> 4 == 1:
                scan.keyframes += 1
        elif tag_type == 8 and len(body) >= 2 and body[1] == 1:  # AAC raw (not the config)
            scan.audio_frames += 1
        pos = end + 4
    return scan


def count_decoded_frames(path: Path, timeout: float = 20.0) -> int:
    """Frames FFmpeg actually decodes from the first video stream of ``path`` (0 if none)."""
    if not path.exists():
        return 0
    result = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    text = result.stdout.strip().split("\n")[0].strip().rstrip(",")
    return int(text) if text.isdigit() else 0


def probe_file(path: Path, timeout: float = 20.0) -> dict[str, object]:
    """ffprobe's JSON description of a recording's streams and its length (format.duration)."""
    result = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,width,height,avg_frame_rate,sample_rate,profile:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return json.loads(result.stdout or "{}")


def closed_port_url(key: str = "key") -> str:
    """An RTMP URL where nothing listens: a destination that refuses the TCP connection."""
    return f"rtmp://127.0.0.1:{free_port()}/app/{key}"


# --------------------------------------------------------------------------- processes


class Publisher(_Managed):
    """ffmpeg publishing testsrc2 + a tone at real-time speed to ``url`` (like OBS would)."""

    def __init__(
        self,
        url: str,
        *,
        width: int = 320,
        height: int = 180,
        fps: int = 30,
        duration: float | None = None,
        video_kbps: int = 300,
        keyframe_seconds: float = 2.0,
    ) -> None:
        self.argv = build_test_pattern_command(
            url,
            width=width,
            height=height,
            fps=fps,
            duration=duration,
            video_kbps=video_kbps,
            keyframe_seconds=keyframe_seconds,
            ffmpeg=FFMPEG,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)
            if self.proc.stderr:
                self.proc.stderr.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class _Drain(threading.Thread):
    """Reads a child's pipe so it never blocks on a full pipe; keeps lines for the test."""

    def __init__(self, pipe: IO[str], on_line: Callable[[str], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.on_line = on_line
        self.lines: list[str] = []

    def run(self) -> None:
        for line in self.pipe:
            if self.on_line is not None:
                self.on_line(line)
            else:
                self.lines.append(line)
                if len(self.lines) > 2000:
                    del self.lines[:1000]


class RelayProcess(_Managed):
    """A relay started exactly as the supervisor starts one (``Child.relay``): bare FFmpeg, the
    key through its pipe after the gate. ``job``: ``streaming.relay.RelayJob``'s fields."""

    def __init__(self, job: dict[str, object]) -> None:
        self.job = RelayJob(ffmpeg=FFMPEG, **job)  # type: ignore[arg-type]
        self.child: Child | None = None
        self.progress: list[Progress] = []
        # (time.monotonic() when the block arrived, the block): for speeds over a window.
        self.timeline: list[tuple[float, Progress]] = []
        self.started_at = 0.0
        self.first_progress_at: float | None = None
        self.stderr_lines: list[str] = []  # raw, unredacted: what FFmpeg itself printed

    @property
    def proc(self) -> subprocess.Popen[str] | None:
        return self.child.proc if self.child is not None else None

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.child = Child.relay(self.job, on_progress=self._on_progress, on_stderr=self._on_stderr)

    def _on_progress(self, progress: Progress) -> None:
        if self.first_progress_at is None and (progress.frame or 0) > 0:
            self.first_progress_at = time.monotonic()
        self.progress.append(progress)
        self.timeline.append((time.monotonic(), progress))
        if len(self.timeline) > 4000:
            del self.timeline[:2000]
            del self.progress[:2000]

    def _on_stderr(self, line: str) -> None:
        self.stderr_lines.append(line)
        if len(self.stderr_lines) > 2000:
            del self.stderr_lines[:1000]

    def stop(self, sig: int = signal.SIGINT) -> int | None:
        """Signal the relay, wait for it (SIGKILL after 8 s); its exit code."""
        if self.child is None:
            return None
        code = stop_process(self.child.proc, sig, grace=8)
        self.child.failure()  # joins the readers: progress and stderr are complete
        return code

    def wait(self, timeout: float) -> int:
        assert self.child is not None
        code = self.child.proc.wait(timeout=timeout)
        self.child.failure()
        return code

    def failure(self) -> tuple[str, str]:
        """What the supervisor would record for this run: ``(category, message)``."""
        assert self.child is not None
        return self.child.failure()

    @property
    def frames(self) -> int:
        return max((p.frame or 0 for p in self.progress), default=0)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid
