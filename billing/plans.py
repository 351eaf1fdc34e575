"""The plan table and the questions every other app asks of it. Pure data and functions.

The single source of truth for FREE / PRO / BUSINESS limits (seed design, PLAN_LIMITS). Nothing
here touches the database: callers pass the plan and the numbers, and get a ``Decision`` back.
A refused decision carries a machine-readable code and a sentence that names the plan which
would allow the action, so every surface (page, JSON API, callback) can show an upgrade prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.quality import is_within, preset_named


class PlanName(StrEnum):
    FREE = "FREE"
    PRO = "PRO"
    BUSINESS = "BUSINESS"


@dataclass(frozen=True)
class PlanLimits:
    name: PlanName
    title: str
    max_platforms: int | None  # None: unlimited
    max_quality: str
    max_stream_minutes: int | None  # None: unlimited
    storage_gb: int
    remove_branding: bool
    monthly_price_cents: int
    yearly_price_cents: int

    @property
    def storage_bytes(self) -> int:
        return self.storage_gb * 1024**3

    @property
    def is_paid(self) -> bool:
        return self.monthly_price_cents > 0


PLAN_LIMITS: dict[PlanName, PlanLimits] = {
    PlanName.FREE: PlanLimits(PlanName.FREE, "Free", 1, "720p", 120, 1, False, 0, 0),
    PlanName.PRO: PlanLimits(PlanName.PRO, "Pro", 3, "1080p", None, 25, True, 1900, 19000),
    PlanName.BUSINESS: PlanLimits(
        PlanName.BUSINESS, "Business", None, "1080p60", None, 100, True, 4900, 49000
    ),
}
PLANS_IN_ORDER: tuple[PlanLimits, ...] = tuple(PLAN_LIMITS[name] for name in PlanName)


class LimitCode(StrEnum):
    DESTINATIONS = "plan_limit_destinations"
    QUALITY = "plan_limit_quality"
    DURATION = "plan_limit_duration"
    STORAGE = "plan_limit_storage"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: LimitCode | None = None
    message: str = ""
    upgrade_to: PlanName | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def limits_of(plan: PlanName | str) -> PlanLimits:
    return PLAN_LIMITS[PlanName(plan)]


def _first_plan_above(plan: PlanLimits, allows: callable) -> PlanLimits | None:  # type: ignore[valid-type]
    for candidate in PLANS_IN_ORDER[PLANS_IN_ORDER.index(plan) + 1 :]:
        if allows(candidate):
            return candidate
    return None


def _refusal(plan: PlanLimits, code: LimitCode, what: str, allows: callable) -> Decision:  # type: ignore[valid-type]
    better = _first_plan_above(plan, allows)
    hint = f" Upgrade to {better.title} to do more." if better else ""
    return Decision(False, code, f"Your {plan.title} plan {what}.{hint}", better.name if better else None)


def check_destination_count(plan: PlanLimits, active_destinations: int) -> Decision:
    """May a user on ``plan`` have ``active_destinations`` destinations switched on at once?"""
    if plan.max_platforms is None or active_destinations <= plan.max_platforms:
        return ALLOWED
    noun = "destination" if plan.max_platforms == 1 else "destinations"
    return _refusal(
        plan,
        LimitCode.DESTINATIONS,
        f"streams to {plan.max_platforms} {noun} at a time",
        lambda p: p.max_platforms is None or active_destinations <= p.max_platforms,
    )


def check_quality(plan: PlanLimits, preset_name: str) -> Decision:
    """May a user on ``plan`` stream at quality ``preset_name``? Unknown names raise UnknownPreset."""
    preset_named(preset_name)
    if is_within(preset_name, plan.max_quality):
        return ALLOWED
    return _refusal(
        plan,
        LimitCode.QUALITY,
        f"streams at up to {plan.max_quality}",
        lambda p: is_within(preset_name, p.max_quality),
    )


def check_stream_duration(plan: PlanLimits, minutes_streamed: float) -> Decision:
    """May a stream that has run ``minutes_streamed`` minutes go on?"""
    if plan.max_stream_minutes is None or minutes_streamed < plan.max_stream_minutes:
        return ALLOWED
    return _refusal(
        plan,
        LimitCode.DURATION,
        f"ends streams after {plan.max_stream_minutes} minutes",
        lambda p: p.max_stream_minutes is None or minutes_streamed < p.max_stream_minutes,
    )


def check_storage(plan: PlanLimits, bytes_used: int, bytes_more: int) -> Decision:
    """May ``bytes_more`` of recordings be stored on top of ``bytes_used``?"""
    if bytes_used + bytes_more <= plan.storage_bytes:
        return ALLOWED
    return _refusal(
        plan,
        LimitCode.STORAGE,
        f"stores up to {plan.storage_gb} GB of recordings",
        lambda p: bytes_used + bytes_more <= p.storage_bytes,
    )


def shows_branding(plan: PlanLimits) -> bool:
    return not plan.remove_branding
