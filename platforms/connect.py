"""What a finished OAuth grant turns into: the account, and what streaming to it needs from the platform."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from platforms import facebook, twitch, youtube
from platforms.errors import PlatformError
from platforms.models import PlatformConnection

log = logging.getLogger(__name__)
Kind = PlatformConnection.Kind


@dataclass(frozen=True)
class PlatformAccount:
    account_id: str
    name: str
    access_token: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class StreamingSetup:
    rtmp_url: str = ""
    stream_key: str = field(default="", repr=False)
    platform_stream_id: str = ""


def streaming_setup(kind: str, account: PlatformAccount) -> StreamingSetup:
    """Twitch: the key and the RTMP ingest. YouTube: a reusable liveStream. Facebook: nothing yet
    (its address is made per stream). Raises PlatformError with a message for the creator."""
    if kind == Kind.TWITCH:
        key = twitch.stream_key(account.access_token, account.account_id)
        return StreamingSetup(twitch.ingest_server(), key)
    if kind == Kind.YOUTUBE:
        ingest = youtube.create_stream(account.access_token, "Prism")
        return StreamingSetup(ingest.server, ingest.key, ingest.stream_id)
    return StreamingSetup()


def revoke_quietly(kind: str, token: str, account_id: str = "") -> None:
    """Ask the platform to forget our grant. Best effort: the destination is already gone here."""
    try:
        if kind == Kind.YOUTUBE:
            youtube.revoke(token)
        elif kind == Kind.TWITCH:
            twitch.revoke(token)
        elif kind == Kind.FACEBOOK:
            facebook.revoke(token, account_id)
    except PlatformError as exc:
        log.warning("revoking a %s grant failed: %s", kind, exc.message)
