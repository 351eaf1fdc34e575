"""What the restream engine needs from a destination: where to push, and how to end it.

``prepare_target`` is called once per destination when a session starts. For YouTube and
Facebook it creates the per-stream object on the platform (a bound liveBroadcast, a live_video);
for Twitch and custom servers it only assembles the URL. The returned ``StreamTarget.url``
holds the stream key: it is a secret, never logged, never put in an argv, never rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from platforms import facebook, twitch, youtube
from platforms.errors import PlatformError
from platforms.models import PlatformConnection
from platforms.tokens import with_access_token

__all__ = ["PlatformError", "StreamTarget", "finish_target", "join_url", "prepare_target", "viewer_count"]
Kind = PlatformConnection.Kind


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

    def target(url: str, ref: str = "") -> StreamTarget:
        return StreamTarget(connection.pk, connection.kind, str(connection), url, ref)

    if connection.kind == Kind.FACEBOOK:
        video = with_access_token(
            connection, lambda token: facebook.create_live_video(token, connection.account_id or "me", title)
        )
        return target(video.url, video.video_id)
    if not connection.rtmp_url or not connection.stream_key:
        raise PlatformError(f"{connection} has no server or stream key: edit or reconnect the destination.")
    if connection.kind == Kind.YOUTUBE:
        broadcast_id = with_access_token(
            connection, lambda token: youtube.start_broadcast(token, connection.platform_stream_id, title)
        )
        return target(join_url(connection.rtmp_url, connection.stream_key), broadcast_id)
    return target(join_url(connection.rtmp_url, connection.stream_key))


def finish_target(connection: PlatformConnection, platform_ref: str) -> None:
    """End the platform-side object of a stream (``StreamTarget.platform_ref``): complete a
    YouTube broadcast, end a Facebook live video; nothing for the others. Raises PlatformError."""
    if not platform_ref:
        return
    if connection.kind == Kind.YOUTUBE:
        with_access_token(connection, lambda token: youtube.end_broadcast(token, platform_ref))
    elif connection.kind == Kind.FACEBOOK:
        with_access_token(connection, lambda token: facebook.end_live_video(token, platform_ref))


def viewer_count(connection: PlatformConnection, platform_ref: str) -> int | None:
    """Current viewers of this stream on the platform, or None when the platform does not say."""
    if connection.kind == Kind.YOUTUBE and platform_ref:
        return with_access_token(connection, lambda token: youtube.viewers(token, platform_ref))
    if connection.kind == Kind.TWITCH:
        return with_access_token(connection, lambda token: twitch.viewers(token, connection.account_id))
    if connection.kind == Kind.FACEBOOK and platform_ref:
        return with_access_token(connection, lambda token: facebook.live_views(token, platform_ref))
    return None
