"""The pure parts of a lease: who holds a row is a fencing token; a holder that lost it stops.

The database side (compare-and-set claim, heartbeat, fenced writes) is ``streaming.leases``.
"""

from __future__ import annotations

from dataclasses import dataclass


class LeaseLost(Exception):
    """Another holder took the row (a newer fencing token): stop at once and write nothing more."""


@dataclass
class HeartbeatSchedule:
    """When the holder of a lease renews it: every ``every`` seconds, on a monotonic clock."""

    every: float
    next_at: float = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def renewed(self, now: float) -> None:
        self.next_at = now + self.every
