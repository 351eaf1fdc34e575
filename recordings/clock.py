"""How a recording's length reads on a page: 0:15, 2:05, 1:02:03 (whole seconds, like a player)."""

from __future__ import annotations

from datetime import timedelta


def clock(length: timedelta) -> str:
    """``m:ss`` under an hour, ``h:mm:ss`` from one; rounded to the nearest second."""
    total = max(0, round(length.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"
