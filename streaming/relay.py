"""One destination's relay: remux (no re-encode) a local live stream to a destination URL.

Run as ``python -m streaming.relay``. The job arrives as ONE JSON line on stdin, because the
output URL carries the destination's stream key and argv is readable by every user of the
machine (``ps``, ``/proc/PID/cmdline``); stdin is private to the parent. Fields:

``input`` (required)     secret-free local URL, e.g. ``rtmp://127.0.0.1:1935/live/s-<hex>``
``output`` (required)    destination URL with its key, ``rtmp://`` or ``rtmps://``
``format``               output container, default ``flv``
``read_timeout``         seconds without input data before giving up, default 10 (also while
                         waiting for a publisher that has not started yet)
``write_timeout``        seconds one write to the output may block, default 15 (connecting
                         to a host that never answers gives up after FFmpeg's 5 s)
``progress_interval``    seconds between progress blocks, default 1 (the stall limit is 4 s)
``probe``                overrides of DEFAULT_PROBE (analyzeduration µs, probesize, fpsprobesize);
                         ``{}`` keeps the defaults, FFmpeg's own are 5 s / 5 MB / 20 frames
``max_video``            ``[width, height, fps]``: refuse (``input_over_ceiling``) a source whose
                         picture or frame rate is above it, before anything is sent
``wait_for_keyframe``    start the output at a video keyframe, default true
``reject_window``        seconds after the publish within which a dropped connection counts
                         as output_rejected (a platform hanging up on a bad key), default 2

stdout carries ``ffmpeg -progress``-style blocks (see ``streaming.progress``). On failure the
relay exits 1 (2 for a bad job) and its last stderr line is ``relay-error: <category>:
<message>`` with every URL redacted. SIGINT/SIGTERM: write the trailer, close, exit 0.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_JOB = 2

CATEGORIES = (
    "output_refused",
    "output_rejected",
    "input_unavailable",
    "input_ended",
    "input_over_ceiling",
    "output_broken",
    "internal",
)

# Probing, measured against nginx-rtmp (docs/performance.md). nginx starts a new player's
# video at the next keyframe, and RTMP's FLV announces audio and video, so probing ends as
# soon as both streams have appeared: analyzeduration is only a ceiling that must exceed the
# publisher's keyframe interval, or the video stream would be missed for good (PyAV drops
# streams that appear after opening). fpsprobesize=0 skips ~20 frames of frame-rate
# estimation a remux does not need (1.3 s instead of 2.6 s to open). No fflags=nobuffer: it
# discards the packets read while probing, i.e. the very keyframe we waited for.
DEFAULT_PROBE = {"analyzeduration": 6_000_000, "probesize": 10_000_000, "fpsprobesize": 0}

# RTMP's start is a dozen small request/answer messages; with Nagle's algorithm and delayed
# ACKs each exchange can stall 40 ms: opening an nginx-rtmp input took 245 ms with it, 110 ms
# without (measured, docs/performance.md). FFmpeg passes the option down to its TCP socket.
NO_NAGLE = {"tcp_nodelay": "1"}

# A destination that drops us this soon after accepting the publish refused the key.
REJECT_WINDOW = 2.0

_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>[^\s'\"<>]*)")
_REDACTED = "<redacted>"


def _redact_url(match: re.Match[str]) -> str:
    scheme, rest = match.group("scheme"), match.group("rest")
    # A query string or fragment can hold a token on any scheme.
    for sep in ("?", "#"):
        if sep in rest:
            rest = rest.split(sep, 1)[0] + sep + _REDACTED
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        # user:password@host
        authority = _REDACTED + "@" + authority.rsplit("@", 1)[1]
    if scheme.lower().startswith("rtmp") and slash:
        query = ""
        for sep in ("?", "#"):
            if sep in path:
                path, _, tail = path.partition(sep)
                query = sep + tail
                break
        head, _, last = path.rpartition("/")
        if last:
            # The stream key is the last path segment (rtmp://host/app/KEY); keep the app.
            path = (head + "/" if head else "") + _REDACTED
        path += query
    return f"{scheme}://{authority}{slash}{path}"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every URL's credentials, query and RTMP(S) stream key replaced.

    ``rtmps://live.example/app/KEY?x=1`` becomes ``rtmps://live.example/app/<redacted>?<redacted>``.
    ``secrets`` (e.g. a stream key known to the caller) are also replaced wherever they
    appear on their own, for output that quotes a key outside a URL.
    """
    if not isinstance(text, str):
        text = str(text)
    out = _URL.sub(_redact_url, text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, _REDACTED)
    return out


class RelayError(Exception):
    def __init__(self, category: str, message: str) -> None:
        assert category in CATEGORIES
        super().__init__(message)
        self.category = category


@dataclass
class Job:
    input: str
    output: str
    format: str = "flv"
    read_timeout: float = 10.0
    write_timeout: float = 15.0
    progress_interval: float = 1.0
    probe: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PROBE))
    wait_for_keyframe: bool = True
    reject_window: float = REJECT_WINDOW
    max_video: list[float] | None = None

    @classmethod
    def from_json(cls, line: str) -> Job:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("the job must be a JSON object")
        for key in ("input", "output"):
            if not isinstance(data.get(key), str) or "://" not in data[key]:
                raise ValueError(f"'{key}' must be a URL")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        job = cls(**data)
        for name in ("read_timeout", "write_timeout", "progress_interval"):
            if not isinstance(getattr(job, name), int | float) or getattr(job, name) <= 0:
                raise ValueError(f"'{name}' must be a positive number")
        if not isinstance(job.probe, dict):
            raise ValueError("'probe' must be an object")
        if job.max_video is not None and (
            not isinstance(job.max_video, list)
            or len(job.max_video) != 3
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in job.max_video
            )
        ):
            raise ValueError("'max_video' must be [width, height, fps], all positive")
        return job

    @property
    def secrets(self) -> tuple[str, ...]:
        key = self.output.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return (key,) if "://" not in key else ()


_REFUSED = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EHOSTDOWN}
_BROKEN = {errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EIO}


def _errno(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    return code if isinstance(code, int) else None


# FFmpeg's network layers log these when no connection (TCP, then TLS) could be made at all:
# DNS failure, no route, TLS handshake failure. They arrive as a bare EIO otherwise.
_NO_CONNECTION_LOGS = ("Cannot open connection", "Failed to resolve hostname", "Connection refused")


def classify_output_open(exc: BaseException, log_messages: tuple[str, ...] = ()) -> str:
    """Opening the output failed: nobody listening / unreachable, or the server said no."""
    import av

    code = _errno(exc)
    text = " ".join((str(exc), *log_messages))
    if code in _REFUSED or isinstance(exc, av.error.ExitError) or any(m in text for m in _NO_CONNECTION_LOGS):
        # ExitError: interrupted while connecting; ETIMEDOUT (in _REFUSED): a host that never answers.
        return "output_refused"
    if isinstance(exc, av.error.ProtocolNotFoundError | av.error.MuxerNotFoundError):
        return "internal"
    # The TCP connection was made but the server closed it or answered with an error
    # during connect/publish: a wrong or expired stream key on every platform we know.
    return "output_rejected"


def classify_output_write(exc: BaseException) -> str:
    code = _errno(exc)
    if code in _BROKEN or isinstance(exc, BrokenPipeError | ConnectionError | EOFError):
        return "output_broken"
    import av

    if isinstance(exc, av.error.ExitError):
        return "output_broken"  # interrupted while writing: the destination stopped reading
    return "internal"


class _MuxFailed(Exception):
    """Carries a write error out of the packet loop, apart from the demuxer's own errors."""


class _Stopper:
    """Turns SIGINT/SIGTERM into a flag the packet loop checks, so the trailer gets written."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name


class ProgressWriter:
    def __init__(self, out: IO[str], interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.interval = interval
        self.clock = clock
        self.frames = 0
        self.bytes = 0
        self.out_time_us = 0
        self.started: float | None = None
        self.last_report = 0.0

    def start(self) -> None:
        """The first packet went out: speed and fps count from here (probing does not)."""
        self.started = self.last_report = self.clock()

    def due(self) -> bool:
        return self.clock() - self.last_report >= self.interval

    def update(self, frames: int, total_bytes: int, out_time_us: int) -> None:
        self.frames, self.bytes = frames, total_bytes
        self.out_time_us = max(self.out_time_us, out_time_us)

    def report(self, ended: bool) -> None:
        from streaming.progress import format_progress_block

        now = self.clock()
        self.last_report = now
        elapsed = (now - self.started) if self.started is not None else 0.0
        seconds = self.out_time_us / 1e6
        block = format_progress_block(
            frame=self.frames,
            fps=self.frames / elapsed if elapsed > 0 else 0.0,
            out_time_us=self.out_time_us,
            total_size=self.bytes,
            bitrate_kbps=self.bytes * 8 / 1000 / seconds if seconds > 0 else None,
            # Speed over the whole run, as ffmpeg reports it; the first packet starts the clock
            # so probing time does not count against it.
            speed=seconds / elapsed if elapsed > 0.2 else None,
            ended=ended,
        )
        try:
            self.out.write(block)
            self.out.flush()
        except (BrokenPipeError, ValueError):
            # The supervisor went away; keep relaying, the stream matters more than the report.
            pass


def _rw_timeout(seconds: float) -> str:
    """FFmpeg's own I/O timeout (µs). Not PyAV's ``timeout=``: that installs an interrupt
    callback which takes the GIL on every network wait, the largest share of the relay's
    per-packet cost (docs/performance.md)."""
    return str(int(seconds * 1_000_000))


def _open_input(job: Job) -> Any:
    import av

    options = {key: str(int(value)) for key, value in {**DEFAULT_PROBE, **job.probe}.items()}
    # FFmpeg 5.1's RTMP reader gives up after about twice its rw_timeout (measured with
    # nginx-rtmp: 2 s -> 4.3 s, 4 s -> 8.3 s), so ask for half of the read timeout.
    options["rw_timeout"] = _rw_timeout(job.read_timeout / 2)
    options.update(NO_NAGLE)
    if job.input.startswith("rtmp"):
        # Ask the server for live data (no buffering hint for a recorded stream).
        options["rtmp_live"] = "live"
    try:
        container = av.open(job.input, "r", options=options)
    except Exception as exc:
        raise RelayError("input_unavailable", f"cannot open the input: {exc}") from exc
    types = {s.type for s in container.streams}
    if not types & {"video", "audio"}:
        container.close()
        raise RelayError("input_unavailable", "the input has no audio or video stream")
    if "video" not in types and "displayWidth" in container.metadata:
        # The publisher announced video but no keyframe came while probing: relaying now
        # would send audio only for the whole session.
        container.close()
        raise RelayError("input_unavailable", "no video keyframe within the probing window")
    if job.max_video is not None:
        over = _over_ceiling(container, job.max_video)
        if over:
            container.close()
            raise RelayError("input_over_ceiling", over)
    return container


def _over_ceiling(container: Any, ceiling: list[float]) -> str:
    """Why the input's video is above ``[width, height, fps]`` (either orientation), or ""."""
    from streaming.renditions import FPS_TOLERANCE  # the planner's own allowance (29.97 is "30")

    video = next((s for s in container.streams if s.type == "video"), None)
    if video is None:
        return ""
    width, height = video.codec_context.width or 0, video.codec_context.height or 0
    max_w, max_h, max_fps = ceiling
    if max(width, height) > max(max_w, max_h) or min(width, height) > min(max_w, max_h):
        return f"the source is {width}x{height}, above {int(max_w)}x{int(max_h)}"
    # FFmpeg's FLV demuxer takes the rate from onMetaData's framerate (OBS and ffmpeg send it).
    # (guessed_rate is no help: for FLV it can be the 1 kHz time base.)
    fps = float(video.average_rate) if video.average_rate else 0.0
    if fps > max_fps + FPS_TOLERANCE:
        return f"the source runs at {fps:g} fps, above {max_fps:g}"
    return ""


def _open_output(
    job: Job, input_container: Any, log: list[tuple[int, str, str]]
) -> tuple[Any, dict[int, Any]]:
    import av

    try:
        output = av.open(
            job.output,
            "w",
            format=job.format,
            # Shift timestamps so the destination sees a stream starting at 0, as `ffmpeg -c
            # copy` does; a live input starts wherever the publisher's clock was.
            container_options={"avoid_negative_ts": "make_zero"},
            options={
                "rw_timeout": _rw_timeout(job.write_timeout),
                **NO_NAGLE,
                **({"flvflags": "no_duration_filesize"} if job.format == "flv" else {}),
            },
        )
    except Exception as exc:
        raise RelayError("internal", f"cannot create the output: {exc}") from exc
    mapping: dict[int, Any] = {}
    for stream in input_container.streams:
        if stream.type in ("video", "audio"):
            mapping[stream.index] = output.add_stream_from_template(stream)
    try:
        # Connect and publish now, before the first packet, so a refusal is reported as such
        # and not as a write error.
        output.start_encoding()
    except Exception as exc:
        category = classify_output_open(exc, tuple(message for _level, _name, message in log))
        # Already failing: the first error is the one to report.
        with contextlib.suppress(Exception):
            output.close()
        if category == "output_rejected":
            what = "the destination refused the publish"
        else:
            what = "could not connect to the destination"
        raise RelayError(category, f"{what}: {exc}") from exc
    return output, mapping


def run(job: Job, stopper: _Stopper, progress: ProgressWriter, log: list[tuple[int, str, str]]) -> int:
    """Relay until the input ends, a signal arrives or something fails (RelayError)."""
    import av

    input_container = _open_input(job)
    output = None
    clean = False
    try:
        output, mapping = _open_output(job, input_container, log)
        opened_at = time.monotonic()
        streams = list(input_container.streams)
        video_index = next((s.index for s in streams if s.type == "video"), -1)
        waiting_for_keyframe = job.wait_for_keyframe and video_index >= 0
        # The packet loop is the relay's whole cost (docs/performance.md): per packet only a
        # few attribute reads, one list compare and the mux; the clock is read every 16th
        # packet and time stamps are converted only when a progress block is due.
        last_dts = [-(2**63)] * (max((s.index for s in streams), default=0) + 1)
        time_bases = {s.index: s.time_base for s in streams if s.time_base}
        first_dts: dict[int, int] = {}
        frames = total_bytes = count = 0
        mux = output.mux_one
        packets = input_container.demux()
        try:
            for packet in packets:
                index = packet.stream_index
                out_stream = mapping.get(index)
                dts = packet.dts
                if out_stream is None or dts is None:
                    continue  # a data stream (onMetaData updates), or the demuxer's flush packet
                if dts <= last_dts[index]:
                    continue  # the muxer refuses non-increasing DTS; ffmpeg drops these too
                if waiting_for_keyframe:
                    # Starting at a keyframe gives the destination a decodable first frame;
                    # audio before it would only lead the picture.
                    if index != video_index or not packet.is_keyframe:
                        continue
                    waiting_for_keyframe = False
                if not count:
                    progress.start()
                last_dts[index] = dts
                first_dts.setdefault(index, dts)
                size = packet.size
                packet.stream = out_stream
                try:
                    mux(packet)
                except Exception as exc:
                    raise _MuxFailed(exc) from exc
                total_bytes += size
                count += 1
                if index == video_index:
                    frames += 1
                if not count & 15 and progress.due():
                    base = time_bases.get(index)
                    time_us = int((dts - first_dts[index]) * base * 1_000_000) if base else 0
                    progress.update(frames, total_bytes, time_us)
                    progress.report(ended=False)
                    if len(log) > 64:
                        del log[:-16]
                if stopper.requested:
                    break
            else:
                raise RelayError("input_ended", "the input stream ended")
        except _MuxFailed as failed:
            exc = failed.__cause__ or failed
            category = classify_output_write(exc)
            after = time.monotonic() - opened_at
            if category == "output_broken" and after < job.reject_window:
                # Platforms that take the publish and then hang up (a wrong or expired key)
                # do it within a moment; a break this early is a refusal.
                raise RelayError(
                    "output_rejected",
                    f"the destination closed the connection {after:.1f} s after the publish: {exc}",
                ) from exc
            raise RelayError(category, f"writing to the destination failed: {exc}") from exc
        except RelayError:
            raise
        except av.error.EOFError as exc:
            raise RelayError("input_ended", "the input stream ended") from exc
        except Exception as exc:
            if not stopper.requested:
                if isinstance(exc, av.error.ExitError) or _errno(exc) == errno.ETIMEDOUT:
                    raise RelayError("input_ended", f"no input data for {job.read_timeout:g} s") from exc
                raise RelayError("input_ended", f"reading the input failed: {exc}") from exc
        finally:
            progress.update(frames, total_bytes, progress.out_time_us)
        clean = True
        return EXIT_OK
    finally:
        if output is not None:
            try:
                # Writes the FLV trailer and closes the connection (RTMP deleteStream).
                output.close()
            except Exception as exc:
                if clean:
                    raise RelayError("output_broken", f"closing the destination failed: {exc}") from exc
        input_container.close()


def _last_log_line(log: list[tuple[int, str, str]]) -> str:
    import av

    for level, _name, message in reversed(log):
        if level <= av.logging.ERROR and message.strip():
            return message.strip()
    return ""


def main(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout, stderr: IO[str] = sys.stderr) -> int:
    stopper = _Stopper()
    stopper.install()
    line = stdin.readline(65536)
    try:
        job = Job.from_json(line)
    except (ValueError, TypeError) as exc:
        # The message may quote the line, which holds the key.
        stderr.write(f"relay-error: internal: bad job on stdin: {redact(str(exc))}\n")
        return EXIT_BAD_JOB

    import av
    import av.logging

    progress = ProgressWriter(stdout, job.progress_interval)
    # FFmpeg's own log lines can quote the URL; capture them instead of letting them reach
    # stderr, and use the last error (redacted) to explain a failure.
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture(local=False) as log:
        try:
            code = run(job, stopper, progress, log)
        except RelayError as exc:
            detail = _last_log_line(log)
            message = str(exc) + (f" ({detail})" if detail and detail not in str(exc) else "")
            progress.report(ended=True)
            stderr.write(f"relay-error: {exc.category}: {redact(message, job.secrets)}\n")
            stderr.flush()
            return EXIT_FAILED
        except Exception as exc:
            progress.report(ended=True)
            stderr.write(f"relay-error: internal: {redact(f'{type(exc).__name__}: {exc}', job.secrets)}\n")
            return EXIT_FAILED
    progress.report(ended=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
