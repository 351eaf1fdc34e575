"""Adaptive bitrate for the browser studio (property 6): which preset to send next, as a pure function.

The studio page runs the same rule in JavaScript (static/js/studio/adaptive.js) from the same
preset table, which the page receives as JSON rendered from ``PRESETS`` (``preset_table``); a
browser test feeds both the same generated inputs so the two cannot drift.

The rule, for each statistics sample (bandwidth in kb/s, the encoder's limitation, a clock); the
bandwidth is the estimate only while the encoder says bandwidth or CPU holds it back, else at
least what the current preset needs (``effective_bandwidth``):
- *fit* is the highest preset, no higher than the plan's, whose ``min_bandwidth_kbps`` is at or
  below the measured bandwidth; none fits: send the lowest preset and say the link is too slow.
- a higher preset that fits the bandwidth but not the plan is returned as an upgrade hint.
- down at once: when *fit* is below the current preset, or when the encoder reports ``cpu`` as
  its limitation (one rung below the current, the CPU cannot keep up whatever the bandwidth;
  never up while it does).
- up only after it held: a higher *fit* must have been seen continuously for ``HOLD_SECONDS``
  since the last change; a sample that does not support it starts the wait again. So at most one
  upward step per hold period: a bandwidth that wavers around a threshold cannot make it flap.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.quality import LOWEST, PRESETS, QualityPreset, preset_named

HOLD_SECONDS = 10.0
# The page starts at the session's ceiling and feeds the rule only after this long: WebRTC's
# bandwidth estimate starts low and ramps up with what is sent (measured: 300 kb/s at the start
# without a start bitrate, 2 Mb/s with the WHIP answer's x-google-start-bitrate). Meanwhile the
# browser's own congestion control keeps the bitrate within what the link carries.
WARMUP_SECONDS = 8.0
CPU_LIMITATION = "cpu"
BANDWIDTH_LIMITATION = "bandwidth"


@dataclass(frozen=True)
class AbrState:
    """What the rule remembers between samples. ``current`` "" = nothing sent yet."""

    current: str = ""
    up_since: float | None = None  # since when a higher preset has fitted without a break


@dataclass(frozen=True)
class AbrDecision:
    state: AbrState
    preset: QualityPreset  # what to send now (the lowest when too slow)
    changed: bool  # a step to announce (a toast)
    direction: str  # "", "up" or "down"
    too_slow: bool  # no preset fits the measured bandwidth
    upgrade_hint: str  # a preset above the plan that the bandwidth would carry, or ""


def fitting_preset(bandwidth_kbps: float, plan_max: str) -> QualityPreset | None:
    """The highest preset within the plan whose minimum bandwidth is at or below the measured one."""
    cap = preset_named(plan_max).rank
    fitting = [p for p in PRESETS[: cap + 1] if p.min_bandwidth_kbps <= bandwidth_kbps]
    return fitting[-1] if fitting else None


def upgrade_hint(bandwidth_kbps: float, plan_max: str) -> str:
    """The highest preset above the plan that the bandwidth would carry, "" when there is none."""
    cap = preset_named(plan_max).rank
    above = [p for p in PRESETS[cap + 1 :] if p.min_bandwidth_kbps <= bandwidth_kbps]
    return above[-1].name if above else ""


def effective_bandwidth(bandwidth_kbps: float, limitation: str, current: str) -> float:
    """What the link is known to carry: the estimate, or, while the encoder says bandwidth does not
    hold it back, at least what the current preset needs.

    WebRTC's estimate (REMB from the media node) follows what is sent: a still picture sends a few
    kb/s and the estimate stays that low (measured: 38 kb/s for a still 720p camera), which is no
    reason to lower the quality. Only a bandwidth- or CPU-limited encoder makes a low estimate count.
    """
    if not current or limitation in (BANDWIDTH_LIMITATION, CPU_LIMITATION):
        return bandwidth_kbps
    return max(bandwidth_kbps, preset_named(current).min_bandwidth_kbps)


def next_preset(
    state: AbrState,
    bandwidth_kbps: float,
    limitation: str,
    now: float,
    plan_max: str,
    hold_seconds: float = HOLD_SECONDS,
) -> AbrDecision:
    """One step of the rule (see the module's docstring); never raises for any finite bandwidth."""
    if state.current and preset_named(state.current).rank <= preset_named(plan_max).rank:
        bandwidth_kbps = effective_bandwidth(bandwidth_kbps, limitation, state.current)
    fit = fitting_preset(bandwidth_kbps, plan_max)
    too_slow = fit is None
    target = fit or LOWEST
    hint = upgrade_hint(bandwidth_kbps, plan_max)
    if not state.current:
        return AbrDecision(AbrState(target.name, None), target, False, "", too_slow, hint)
    current = preset_named(state.current)
    if current.rank > preset_named(plan_max).rank:  # the plan changed under a running stream
        current = preset_named(plan_max)
    if limitation == CPU_LIMITATION:  # one rung down (never up) while the encoder is short of CPU
        target = PRESETS[min(target.rank, max(current.rank - 1, 0))]
    if target.rank < current.rank:
        return AbrDecision(AbrState(target.name, None), target, True, "down", too_slow, hint)
    if target.rank == current.rank:
        changed = current.name != state.current
        return AbrDecision(
            AbrState(current.name, None), current, changed, "down" if changed else "", too_slow, hint
        )
    # A higher preset fits: wait until it has held for hold_seconds without a break.
    up_since = state.up_since if state.up_since is not None else now
    if now - up_since >= hold_seconds:
        return AbrDecision(AbrState(target.name, None), target, True, "up", too_slow, hint)
    return AbrDecision(AbrState(current.name, up_since), current, False, "", too_slow, hint)


def preset_table() -> list[dict[str, object]]:
    """The presets as the page's JavaScript reads them (lowest first), plus the rule's constants."""
    return [
        {
            "name": p.name,
            "width": p.width,
            "height": p.height,
            "fps": p.fps,
            "videoKbps": p.video_kbps,
            "audioKbps": p.audio_kbps,
            "minBandwidthKbps": p.min_bandwidth_kbps,
        }
        for p in PRESETS
    ]
