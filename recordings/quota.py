"""The storage questions a recording asks of the plan; billing.plans.check_storage decides them all."""

from __future__ import annotations

from billing.plans import Decision, PlanLimits, check_storage

# Starting a recording needs room for at least one byte: at or over the quota, it is refused.
START_BYTES = 1


def may_start_recording(plan: PlanLimits, bytes_used: int) -> Decision:
    """May a new recording start when the user's recordings already take ``bytes_used``?"""
    return check_storage(plan, bytes_used, START_BYTES)


def may_keep_recording(plan: PlanLimits, bytes_used_elsewhere: int, bytes_written: int) -> Decision:
    """May a recording that has written ``bytes_written`` so far go on?"""
    return check_storage(plan, bytes_used_elsewhere, bytes_written)
