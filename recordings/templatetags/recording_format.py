from __future__ import annotations

from datetime import timedelta

from django import template

from recordings.clock import clock

register = template.Library()


@register.filter(name="clock")
def clock_filter(value: timedelta | None) -> str:
    """``{{ recording.duration|clock }}``: 0:15, 1:02:03; empty for no duration."""
    return clock(value) if isinstance(value, timedelta) else ""
