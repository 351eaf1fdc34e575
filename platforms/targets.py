"""What the restream engine needs from a destination: where to push, and how to end it.

``prepare_target`` is called once per destination when a session starts. For YouTube and
Facebook it creates the per-stream object on the platform (a bound liveBroadcast, a live_video);
for Twitch and custom servers it only assembles the URL. The returned ``StreamTarget.url``
holds the stream key: it is a secret, never logged, never put in an argv, never rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from platforms.models import PlatformConnection


class PlatformError(Exception):
    """A platform refused or failed; ``message`` is written for the creator and holds no secret."""

    def __init__(self, message: str, *, needs_reconnect: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.needs_reconnect = needs_reconnect


@dataclass(frozen=True)
class StreamTarget:
    connection_id: int
    kind: str
    label: str
    url: str = field(repr=False)  # secret: includes the stream key
    platform_ref: str = ""  # e.g. the YouTube broadcast id or Facebook live video id of this stream
    quality_ceiling: str | None = None  # the platform's own cap, if lower than the plan's

    def __str__(self) -> str:
        return self.label


def join_url(server: str, key: str) -> str:
    return f"{server.rstrip('/')}/{key}"


def prepare_target(connection: PlatformConnection, *, title: str) -> StreamTarget:
    """Everything needed to push this session to ``connection``; raises PlatformError."""
    if connection.state == PlatformConnection.State.NEEDS_REAUTH:
        raise PlatformError(f"{connection.get_kind_display()} needs to be reconnected.", needs_reconnect=True)
    if connection.kind in (PlatformConnection.Kind.CUSTOM, PlatformConnection.Kind.TWITCH):
        if not connection.rtmp_url or not connection.stream_key:
            raise PlatformError(f"{connection} has no server or stream key: edit the destination.")
        return StreamTarget(
            connection_id=connection.pk,
            kind=connection.kind,
            label=str(connection),
            url=join_url(connection.rtmp_url, connection.stream_key),
        )
    raise PlatformError(f"Streaming to {connection.get_kind_display()} is not available yet.")


def finish_target(connection: PlatformConnection, target: StreamTarget) -> None:
    """End the platform-side object of this stream (complete a broadcast, end a live video)."""


def viewer_count(connection: PlatformConnection, platform_ref: str) -> int | None:
    """Current viewers of this stream on the platform, or None when the platform does not say."""
    return None
