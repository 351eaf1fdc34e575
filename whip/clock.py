"""One clock for a session's audio and video stamps (pure: no aiortc, no PyAV).

aiortc rebases each track's RTP timestamps to 0 on its own and does not expose the sender's RTCP
reports, so the two tracks' stamps share no origin. Each track is anchored to the session's
monotonic clock at its first frame; after that its own media clock (RTP, no network jitter)
advances it. A track whose media clock wanders more than ``REANCHOR_SECONDS`` from arrival time
(a pause, a restarted sender) is anchored again. Stamps never go backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REANCHOR_SECONDS = 1.0


@dataclass
class TrackClock:
    offset: float | None = None  # session seconds minus media seconds
    last: float = -1.0


@dataclass
class SessionClock:
    """``stamp(track, media_seconds, arrival_seconds)`` → session seconds for that frame."""

    origin: float
    tracks: dict[str, TrackClock] = field(default_factory=dict)

    def stamp(self, track: str, media_seconds: float, arrival: float) -> float:
        clock = self.tracks.setdefault(track, TrackClock())
        now = arrival - self.origin
        if clock.offset is None or abs(media_seconds + clock.offset - now) > REANCHOR_SECONDS:
            clock.offset = now - media_seconds
        at = max(media_seconds + clock.offset, clock.last, 0.0)
        clock.last = at
        return at
