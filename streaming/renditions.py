"""Decide, per destination, whether it gets the source as is or a transcoded rendition.

Pure planning (``plan_renditions``) plus ``probe_source``, which asks ffprobe what the
session's live stream is. Rules:

* A destination gets the source unchanged (a copy relay) when the source fits its quality
  ceiling (size, frame rate, H.264 + AAC, which is what FLV to every platform carries) and
  no branding must be burned in.
* Otherwise it reads a rendition: the highest preset at or below its ceiling that does not
  exceed the source (never upscale); with the source unknown, the ceiling itself (the
  encoder's scale filter still refuses to upscale).
* A rendition is (preset, branded); every destination needing the same one shares one
  encoder, so the session runs one encoder per distinct rendition.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from core.quality import PRESETS, QualityPreset, preset_named
from streaming.ffmpeg import build_probe_command

# Frame rates are nominal: 29.97 is "30", 59.94 is "60".
FPS_TOLERANCE = 1.0
COPYABLE_VIDEO = {"h264"}
COPYABLE_AUDIO = {"aac"}


@dataclass(frozen=True)
class SourceInfo:
    width: int
    height: int
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    def as_json(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "video_codec": self.video_codec,
            "audio_codec": self.audio_codec,
        }

    @classmethod
    def from_json(cls, data: object) -> SourceInfo | None:
        """The inverse of ``as_json``; None for anything malformed (a stored value is not trusted)."""
        if not isinstance(data, dict):
            return None
        width, height, fps = data.get("width"), data.get("height"), data.get("fps")
        if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
            return None
        if fps is not None and (not isinstance(fps, int | float) or fps <= 0):
            fps = None
        codecs = [
            data.get(k) if isinstance(data.get(k), str) else None for k in ("video_codec", "audio_codec")
        ]
        return cls(width, height, float(fps) if fps else None, *codecs)

    @classmethod
    def exactly(cls, preset: QualityPreset) -> SourceInfo:
        """A source that fits ``preset`` to the pixel: the guess for a creator never probed before."""
        return cls(preset.width, preset.height, float(preset.fps), "h264", "aac")

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def rendition_stream_name(session_stream: str, suffix: str) -> str:
    """Secret-free name an encoder publishes a rendition under, e.g. ``s-<hex>-720p-branded``."""
    return f"{session_stream}-{suffix}"


def split_rendition_stream_name(name: str) -> tuple[str, str] | None:
    """``rendition_stream_name``'s inverse: (session's stream name, rendition suffix), or None
    for a name that is not a session's rendition."""
    prefix, sep, rest = name.partition("-")
    token, sep2, suffix = rest.partition("-")
    if prefix != "s" or not (sep and sep2 and token and suffix):
        return None
    return f"s-{token}", suffix


@dataclass(frozen=True)
class DestinationNeed:
    """What one destination requires: its id (any hashable), ceiling preset name, branding."""

    destination: object
    ceiling: str
    branding: bool = False


@dataclass(frozen=True, order=True)
class Rendition:
    preset: str
    branded: bool = False

    @property
    def suffix(self) -> str:
        return f"{self.preset}-branded" if self.branded else self.preset

    def stream_name(self, session_stream: str) -> str:
        return rendition_stream_name(session_stream, self.suffix)

    @property
    def quality(self) -> QualityPreset:
        return preset_named(self.preset)


@dataclass(frozen=True)
class Plan:
    """``reads[destination]`` is None for a copy of the source, else the rendition to relay."""

    reads: dict[object, Rendition | None]
    renditions: tuple[Rendition, ...]

    def destinations_of(self, rendition: Rendition | None) -> list[object]:
        return [d for d, r in self.reads.items() if r == rendition]


def _size_within(source: SourceInfo, preset: QualityPreset) -> bool:
    # Compare long and short sides so a portrait source (720x1280) counts as 720p.
    return source.long_side <= preset.width and source.short_side <= preset.height


def _fps_within(fps: float | None, limit: float) -> bool:
    return fps is None or fps <= limit + FPS_TOLERANCE


def fits(source: SourceInfo, ceiling: QualityPreset) -> bool:
    """True when the source can be relayed unchanged to a destination capped at ``ceiling``."""
    codecs_ok = (source.video_codec is None or source.video_codec in COPYABLE_VIDEO) and (
        source.audio_codec is None or source.audio_codec in COPYABLE_AUDIO
    )
    return codecs_ok and _size_within(source, ceiling) and _fps_within(source.fps, ceiling.fps)


def _exceeds(preset: QualityPreset, source: SourceInfo) -> bool:
    larger = preset.width > source.long_side or preset.height > source.short_side
    # A 60 fps preset for a 30 fps source would only duplicate frames; any 30 fps preset is
    # fine for a 25 fps source (the encoder keeps the source's rate).
    faster = source.fps is not None and preset.fps > max(30.0, source.fps + FPS_TOLERANCE)
    return larger or faster


def rendition_for(source: SourceInfo | None, ceiling: str, branding: bool) -> Rendition | None:
    """None (copy the source) or the rendition a destination with this ceiling must read."""
    cap = preset_named(ceiling)
    if source is not None and not branding and fits(source, cap):
        return None
    if source is None:
        return Rendition(cap.name, branding)
    candidates = [p for p in PRESETS[: cap.rank + 1] if not _exceeds(p, source)]
    # A source below the lowest rung still gets the lowest preset (for its bitrate and
    # keyframes); the encoder keeps the source's smaller size.
    chosen = candidates[-1] if candidates else PRESETS[0]
    return Rendition(chosen.name, branding)


def plan_renditions(source: SourceInfo | None, needs: Iterable[DestinationNeed]) -> Plan:
    """Per destination: copy or which rendition; plus the distinct renditions to encode."""
    reads: dict[object, Rendition | None] = {}
    for need in needs:
        if need.destination in reads:
            raise ValueError(f"destination {need.destination!r} listed twice")
        reads[need.destination] = rendition_for(source, need.ceiling, need.branding)
    renditions = tuple(
        sorted({r for r in reads.values() if r is not None}, key=lambda r: (r.quality.rank, r.branded))
    )
    return Plan(reads=reads, renditions=renditions)


def _rate(text: object) -> float | None:
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return float(value) if 0 < value < 1000 else None


def parse_probe_output(text: str) -> SourceInfo | None:
    """SourceInfo from ``ffprobe -of json`` output; None when there is no usable video stream."""
    try:
        streams = json.loads(text).get("streams", [])
    except (ValueError, AttributeError):
        return None
    if not isinstance(streams, list):
        return None
    video = next((s for s in streams if isinstance(s, dict) and s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if isinstance(s, dict) and s.get("codec_type") == "audio"), None)
    if video is None:
        return None
    width, height = video.get("width"), video.get("height")
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        return None
    # avg_frame_rate is measured; r_frame_rate can be a timebase guess (1000/1 for FLV).
    fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    return SourceInfo(
        width=width,
        height=height,
        fps=round(fps, 3) if fps else None,
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name") if audio else None,
    )


def probe_source(url: str, timeout: float = 10.0, ffprobe: str = "ffprobe") -> SourceInfo | None:
    """What the live stream at ``url`` (secret-free) carries, or None if it cannot be told in time."""
    argv = build_probe_command(url, ffprobe=ffprobe, rw_timeout_us=int(max(timeout, 1) * 1_000_000))
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return None
    if result.returncode != 0:
        return None
    return parse_probe_output(result.stdout)


def wait_until_live(url: str, timeout: float = 15.0, ffprobe: str = "ffprobe") -> SourceInfo | None:
    """Probe ``url`` until it is live (e.g. an encoder we just started has begun publishing).

    The ingest closes readers of a stream that does not exist yet (``idle_streams off``), so
    a single probe right after starting an encoder fails; retry until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        info = probe_source(url, timeout=left, ffprobe=ffprobe)
        if info is not None:
            return info
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
