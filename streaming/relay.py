"""A destination's relay: bare ``ffmpeg -c copy``, its stream key handed over a private pipe.

Bare FFmpeg is the cheapest relay there is: the PyAV relay it replaced cost 1.7x its CPU per
destination (docs/performance.md). The catch is the key: argv is readable by every user of the
machine (``ps``, ``/proc/PID/cmdline``) and FFmpeg 5.1 cannot read a URL from a file. It can read
options from a preset file (``-fpre FILE``: ``key=value`` lines), and its RTMP client takes the
stream key as an option (``rtmp_playpath``, with ``rtmp_app``). So argv holds the secret-free
``rtmps://host/app`` and ``-fpre /dev/fd/N``, and the supervisor writes ``rtmp_playpath=KEY`` into
that pipe, which no other user can open (docs/decisions.md, "Relays are bare FFmpeg").

FFmpeg parses an output's options only after it has opened and probed its input, and it prints
the input's streams first. The supervisor reads them from stderr (``RelayWatch``) and writes the
key only when the input is acceptable: a source above the plan's ceiling (``max_video``) is
refused before the destination is even connected to. When the process ends, ``RelayWatch``
names what went wrong, one of CATEGORIES, from the same stderr.

Every line of a child's output we keep goes through ``core.redaction.redact``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from core.redaction import redact
from streaming.renditions import FPS_TOLERANCE  # the planner's allowance (29.97 is "30")

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
# publisher's keyframe interval, or the video stream would be missed for good. fpsprobesize=0
# skips ~20 frames of frame-rate estimation a remux does not need (1.3 s instead of 2.6 s to
# open). No fflags=nobuffer: it discards the packets read while probing, i.e. the very
# keyframe we waited for.
DEFAULT_PROBE: Mapping[str, int] = {"analyzeduration": 6_000_000, "probesize": 10_000_000, "fpsprobesize": 0}

# RTMP's start is a dozen small request/answer messages; with Nagle's algorithm and delayed
# ACKs each exchange can stall 40 ms: opening an nginx-rtmp input took 245 ms with it, 110 ms
# without (measured, docs/performance.md). FFmpeg passes the option down to its TCP socket.
NO_NAGLE = ("-tcp_nodelay", "1")

# A destination that drops us this soon after accepting the publish refused the key.
REJECT_WINDOW = 2.0

# With no video stream among the input's, wait this long after FFmpeg starts listing them
# before deciding (the list is printed line by line, in one burst).
SETTLE_SECONDS = 0.15

# FFmpeg reads a preset line into a 1000-byte buffer.
MAX_PRESET_VALUE = 900


class RelayError(ValueError):
    """A job that cannot be run; the message never quotes the destination (it holds the key)."""


@dataclass(frozen=True)
class Destination:
    """An RTMP(S) destination split the way FFmpeg is told about it: ``url`` and ``app`` go in
    argv (no secret), ``key`` (the stream name, with any query string) only through the pipe."""

    url: str = field(repr=False)
    app: str
    key: str = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> Destination:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("rtmp", "rtmps") or not parts.hostname:
            raise RelayError("the destination must be an rtmp:// or rtmps:// address with a host")
        if parts.username or parts.password:
            raise RelayError("the destination address must not hold a user name or password")
        app, _, key = parts.path.strip("/").rpartition("/")
        if not app or not key:
            raise RelayError("the destination address must be rtmp(s)://host/application/stream-key")
        if parts.query:
            key += "?" + parts.query  # Facebook's keys carry parameters; they belong to the stream name
        for value in (app, key):
            if len(value) > MAX_PRESET_VALUE or any(c in value for c in "\r\n\0"):
                raise RelayError("the destination's application or key is too long or holds a line break")
        return cls(f"{parts.scheme}://{parts.netloc}/{app}", app, key)

    def preset(self) -> str:
        """What the supervisor writes into the relay's ``-fpre`` pipe."""
        return f"rtmp_app={self.app}\nrtmp_playpath={self.key}\n"


def _microseconds(seconds: float) -> str:
    return str(int(seconds * 1_000_000))


@dataclass(frozen=True)
class RelayJob:
    """One relay: ``input`` (a secret-free local URL) copied to ``output``, an RTMP(S) URL with
    its key or, for the recorder, an absolute file path.

    ``read_timeout``: seconds without input data before giving up (also while waiting for a
    publisher that has not started). ``write_timeout``: seconds one write to the destination may
    block. ``progress_interval``: seconds between ``-progress`` blocks (the stall limit is 2 s).
    ``probe``: overrides of DEFAULT_PROBE. ``max_video``: ``(width, height, fps)``, refuse a
    source above it in either orientation (``input_over_ceiling``) before connecting to the
    destination. ``reject_window``: seconds after the publish within which a dropped connection
    counts as output_rejected (a platform hanging up on a bad key).
    """

    input: str
    output: str = field(repr=False)
    format: str = "flv"
    read_timeout: float = 10.0
    write_timeout: float = 15.0
    progress_interval: float = 0.5
    probe: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PROBE))
    max_video: tuple[float, float, float] | None = None
    reject_window: float = REJECT_WINDOW
    ffmpeg: str = "ffmpeg"

    def __post_init__(self) -> None:
        if not isinstance(self.input, str) or "://" not in self.input or any(c.isspace() for c in self.input):
            raise RelayError("the input must be a URL")
        if not isinstance(self.output, str) or not (self.output.startswith("/") or "://" in self.output):
            raise RelayError("the output must be an rtmp(s):// URL or an absolute file path")
        self.destination  # noqa: B018 (parsing raises on a bad destination)
        for name in ("read_timeout", "write_timeout", "progress_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise RelayError(f"'{name}' must be a positive number")
        if not isinstance(self.reject_window, int | float) or self.reject_window < 0:
            raise RelayError("'reject_window' must be a number of seconds")
        if not isinstance(self.probe, Mapping) or not all(
            isinstance(k, str) and k.isidentifier() and isinstance(v, int) and not isinstance(v, bool)
            for k, v in self.probe.items()
        ):
            raise RelayError("'probe' must map FFmpeg option names to integers")
        if self.max_video is not None and (
            not isinstance(self.max_video, tuple | list)
            or len(self.max_video) != 3
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in self.max_video
            )
        ):
            raise RelayError("'max_video' must be (width, height, fps), all positive")
        if not re.fullmatch(r"[a-z0-9_]+", self.format):
            raise RelayError("'format' must be an FFmpeg muxer name")

    @cached_property
    def destination(self) -> Destination | None:
        return Destination.parse(self.output) if "://" in self.output else None

    @property
    def secrets(self) -> tuple[str, ...]:
        destination = self.destination
        if destination is None:
            return ()
        return (destination.key, destination.key.split("?", 1)[0])

    def command(self, key_fd: int | None) -> list[str]:
        """argv: nothing secret in it. ``key_fd``: the pipe the key arrives on (RTMP outputs)."""
        destination = self.destination
        if destination is not None and key_fd is None:
            raise RelayError("an RTMP destination needs the key pipe")
        argv = [
            self.ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-nostats",
            # Info: the input's streams (the gate) and the output's opening; nothing per packet.
            "-loglevel",
            "level+info",
            "-progress",
            "pipe:1",
            "-stats_period",
            f"{self.progress_interval:g}",
        ]
        for name, value in {**DEFAULT_PROBE, **self.probe}.items():
            argv += [f"-{name}", str(value)]
        # FFmpeg 5.1's RTMP reader gives up after about twice its rw_timeout (measured with
        # nginx-rtmp: 2 s -> 4.3 s, 4 s -> 8.3 s), so ask for half of the read timeout.
        argv += ["-rw_timeout", _microseconds(self.read_timeout / 2)]
        if self.input.startswith("rtmp"):
            # Ask the server for live data (no buffering hint for a recorded stream).
            argv += ["-rtmp_live", "live", *NO_NAGLE]
        argv += ["-i", self.input, "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy"]
        if destination is not None:
            argv += ["-fpre", f"/dev/fd/{key_fd}", *NO_NAGLE]
            argv += ["-rw_timeout", _microseconds(self.write_timeout)]
        else:
            argv += ["-n"]  # a recording part is a new file; never overwrite one
        if self.format == "flv":
            # A live FLV has no final duration or size to seek back and patch.
            argv += ["-flvflags", "no_duration_filesize"]
        argv += ["-f", self.format, destination.url if destination is not None else self.output]
        return argv


# --------------------------------------------------------------------------- watching stderr

_LOG_LINE = re.compile(
    r"^(?:\[(?P<context>[^\]]*)\] )?\[(?P<level>trace|debug|verbose|info|warning|error|fatal|panic)\] "
    r"(?P<message>.*)$"
)
_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (?P<type>Video|Audio|Data|Subtitle|Attachment): (?P<rest>.*)$")
_SIZE = re.compile(r", (?P<w>\d{1,5})x(?P<h>\d{1,5})(?=[ ,]|$)")
_FPS = re.compile(r", (?P<fps>\d+(?:\.\d+)?)(?P<k>k?) fps")
_METADATA_VIDEO = re.compile(r"^\s+(displayWidth|videocodecid)\s*:")
# FFmpeg's network layers log these when no connection (TCP, then TLS) could be made at all:
# nobody listening, DNS failure, no route, a host that never answers, a TLS handshake failure.
_NO_CONNECTION = (
    "Connection refused",
    "Cannot open connection",
    "Failed to resolve hostname",
    "Connection timed out",
    "No route to host",
    "Network is unreachable",
)
_OUTPUT_FAILURES = (
    "av_interleaved_write_frame()",
    "Error writing trailer",
    "Error muxing",
    "Error closing file",
)
_ERRORS = ("error", "fatal", "panic")
_BAD_ARGUMENTS = ("Invalid option", "Unrecognized option", "Option not found", "not found.")


def parse_log_line(line: str) -> tuple[str, str] | None:
    """``(level, message)`` of one ``-loglevel level+info`` line, or None for anything else."""
    match = _LOG_LINE.match(line.rstrip("\r\n"))
    return (match["level"], match["message"]) if match else None


@dataclass
class InputReport:
    """The input as FFmpeg lists it: its video (width, height, fps or 0), audio, and whether the
    publisher announced video (onMetaData) that did not arrive while probing."""

    video: tuple[int, int, float] | None = None
    audio: bool = False
    announced_video: bool = False

    def feed(self, message: str) -> None:
        if _METADATA_VIDEO.match(message):
            self.announced_video = True
            return
        stream = _STREAM.match(message)
        if stream is None:
            return
        if stream["type"] == "Audio":
            self.audio = True
        elif stream["type"] == "Video" and self.video is None:
            size, fps = _SIZE.search(stream["rest"]), _FPS.search(stream["rest"])
            rate = float(fps["fps"]) * (1000 if fps["k"] else 1) if fps else 0.0
            self.video = (int(size["w"]), int(size["h"]), rate) if size else (0, 0, rate)

    def over(self, ceiling: tuple[float, float, float]) -> str:
        """Why the video is above ``(width, height, fps)`` (either orientation), or ""."""
        if self.video is None:
            return ""
        width, height, fps = self.video
        max_w, max_h, max_fps = ceiling
        if max(width, height) > max(max_w, max_h) or min(width, height) > min(max_w, max_h):
            return f"the source is {width}x{height}, above {int(max_w)}x{int(max_h)}"
        # FFmpeg's FLV demuxer takes the rate from onMetaData's framerate (OBS and ffmpeg send it).
        if fps > max_fps + FPS_TOLERANCE:
            return f"the source runs at {fps:g} fps, above {max_fps:g}"
        return ""


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: hand the key over (``passed``), or refuse with a category."""

    passed: bool
    category: str = ""
    message: str = ""


PASS = Verdict(True)


class RelayWatch:
    """Follows one relay's stderr: decides the gate and, at the end, names the failure.

    ``feed`` every line as it arrives (with the clock); it returns the gate's Verdict once, when
    it is decided. ``settle`` decides a listing without video once it has had SETTLE_SECONDS.
    ``failure`` gives ``(category, message)`` after the process ended on its own. Messages are
    redacted with the job's secrets.
    """

    def __init__(self, job: RelayJob) -> None:
        self.job = job
        self.report = InputReport()
        self.verdict: Verdict | None = None
        self.listing_since: float | None = None
        self.output_opened_at: float | None = None
        self.output_failed: tuple[str, float] | None = None
        self.input_failed: str | None = None
        self.last_error = ""
        destination = job.destination
        self._output_name = destination.url if destination is not None else job.output

    def _decide(self, complete: bool) -> Verdict | None:
        report, ceiling = self.report, self.job.max_video
        if report.video is not None:
            why = report.over(tuple(ceiling)) if ceiling is not None else ""  # type: ignore[arg-type]
            return Verdict(False, "input_over_ceiling", why) if why else PASS
        if not complete:
            return None
        if report.announced_video:
            # Relaying now would send audio only for the whole session.
            return Verdict(False, "input_unavailable", "no video keyframe within the probing window")
        if not report.audio:
            return Verdict(False, "input_unavailable", "the input has no audio or video stream")
        return PASS

    def feed(self, line: str, now: float) -> Verdict | None:
        parsed = parse_log_line(line)
        if parsed is None:
            return None
        level, message = parsed
        if level in _ERRORS:
            self.last_error = message
        if self.verdict is None:
            if message.startswith("Input #"):
                self.listing_since = now
            elif self.listing_since is not None:
                self.report.feed(message)
                self.verdict = self._decide(complete=False)
                return self.verdict
            if level in _ERRORS and self.input_failed is None and message.startswith(self.job.input):
                self.input_failed = message
            return None
        if message.startswith("Output #"):
            self.output_opened_at = now
        elif level in _ERRORS and self.output_failed is None and self.input_failed is None:
            if message.startswith(_OUTPUT_FAILURES) or message.startswith(self._output_name + ":"):
                self.output_failed = (message, now)
            elif message.startswith((self.job.input, "Error during demuxing")):
                self.input_failed = message
        return None

    def settle(self, now: float) -> Verdict | None:
        since = self.listing_since
        if self.verdict is None and since is not None and now - since >= SETTLE_SECONDS:
            self.verdict = self._decide(complete=True)
            return self.verdict
        return None

    def failure(self, exit_code: int | None) -> tuple[str, str]:
        secrets = self.job.secrets

        def text(message: str, detail: str = "") -> str:
            return redact(message + (f" ({detail})" if detail else ""), secrets)

        verdict = self.verdict
        if verdict is not None and not verdict.passed:
            return verdict.category, text(verdict.message)
        if verdict is None:
            if self.input_failed is not None or self.listing_since is not None:
                detail = self.input_failed or self.last_error
                return "input_unavailable", text("cannot open the input", detail)
            return "internal", text("FFmpeg did not start the relay", self.last_error or f"exit {exit_code}")
        if self.output_opened_at is None:
            if self.input_failed is not None and self._output_name not in self.last_error:
                return "input_ended", text("the input stream ended", self.input_failed)
            if any(marker in self.last_error for marker in _NO_CONNECTION):
                return "output_refused", text("could not connect to the destination", self.last_error)
            if any(marker in self.last_error for marker in _BAD_ARGUMENTS):
                return "internal", text("FFmpeg refused the relay's options", self.last_error)
            return "output_rejected", text("the destination refused the publish", self.last_error)
        if self.output_failed is not None:
            message, at = self.output_failed
            after = at - self.output_opened_at
            if after < self.job.reject_window:
                # Platforms that take the publish and then hang up (a wrong or expired key) do
                # it within a moment; a break this early is a refusal.
                return "output_rejected", text(
                    f"the destination closed the connection {after:.1f} s after the publish", message
                )
            return "output_broken", text("writing to the destination failed", message)
        if self.input_failed is not None or exit_code == 0:
            # FFmpeg ends a run whose input failed or ended as a normal end of stream.
            return "input_ended", text("the input stream ended", self.input_failed or "")
        return "internal", text("the relay failed", self.last_error or f"exit {exit_code}")
