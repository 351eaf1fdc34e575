"""Quality presets: pure data and the rules every other part asks (Django-free).

The seed design's three presets (720p, 1080p, 1080p60) plus two lower rungs (480p, 360p)
so that a preset fits every measured bandwidth above the lowest rung. Presets are ordered
from lowest to highest; a preset's *rank* is its index in ``PRESETS``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityPreset:
    name: str
    width: int
    height: int
    fps: int
    video_kbps: int
    audio_kbps: int
    min_bandwidth_kbps: int

    @property
    def rank(self) -> int:
        return PRESET_NAMES.index(self.name)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.width}x{self.height} @ {self.fps} fps)"


PRESETS: tuple[QualityPreset, ...] = (
    QualityPreset("360p", 640, 360, 30, 800, 96, 1000),
    QualityPreset("480p", 854, 480, 30, 1200, 128, 1500),
    QualityPreset("720p", 1280, 720, 30, 2500, 128, 3000),
    QualityPreset("1080p", 1920, 1080, 30, 4500, 160, 5500),
    QualityPreset("1080p60", 1920, 1080, 60, 6000, 160, 7500),
)
PRESET_NAMES: tuple[str, ...] = tuple(p.name for p in PRESETS)
LOWEST = PRESETS[0]  # the studio's adaptive bitrate falls back to it (streaming.adaptive)


class UnknownPreset(ValueError):
    pass


def preset_named(name: str) -> QualityPreset:
    """Return the preset called ``name``; raise UnknownPreset for anything else."""
    for candidate in PRESETS:
        if candidate.name == name:
            return candidate
    raise UnknownPreset(f"Unknown quality {name!r}; choose one of {', '.join(PRESET_NAMES)}.")


def is_within(name: str, ceiling: str) -> bool:
    """True when preset ``name`` is no higher than preset ``ceiling``."""
    return preset_named(name).rank <= preset_named(ceiling).rank


def session_ceiling(preferred: str, plan_max: str) -> str:
    """A session's quality ceiling: the creator's preference capped by the plan ("" = the plan's max).

    An unknown preference (a preset renamed since it was stored) falls back to the plan's max.
    """
    if preferred not in PRESET_NAMES:
        return plan_max
    return preferred if is_within(preferred, plan_max) else plan_max
