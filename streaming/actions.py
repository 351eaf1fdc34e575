"""Actions of the restream engine that other apps call."""

from __future__ import annotations


def end_sessions_over_plan(user_id: int) -> int:
    """End (with a message) the user's live sessions that the user's current plan no longer covers.

    Called by billing after a plan drops or lapses. The engine's sessions land with the
    restream issue; until then there is nothing live to end. Returns how many were ended.
    """
    return 0
