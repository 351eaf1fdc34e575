"""Keeping a connection's OAuth access alive: refresh before expiry and on a 401; else ask for a reconnect.

The seed design's error table: "OAuth token expired → auto-refresh using refresh token, prompt re-auth
if fails". Facebook has no refresh token: its tokens last ~60 days, and a refused one means reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.utils import timezone

from platforms import twitch, youtube
from platforms.errors import PlatformError, Unauthorized
from platforms.http import TokenGrant
from platforms.models import PlatformConnection

log = logging.getLogger(__name__)
T = TypeVar("T")

REFRESHERS: dict[str, Callable[[str], TokenGrant]] = {
    PlatformConnection.Kind.YOUTUBE: youtube.refresh,
    PlatformConnection.Kind.TWITCH: twitch.refresh,
}


def needs_refresh(connection: PlatformConnection) -> bool:
    margin = timedelta(seconds=settings.PLATFORM_TOKEN_REFRESH_MARGIN)
    expires = connection.token_expires_at
    return expires is not None and expires <= timezone.now() + margin


def refresh_tokens(connection: PlatformConnection) -> None:
    """Renew the access token (and a rotated refresh token). On refusal: NEEDS_REAUTH, PlatformError."""
    refresher = REFRESHERS.get(connection.kind)
    if refresher is None or not connection.refresh_token:
        connection.mark_needs_reauth()
        raise PlatformError(f"{connection.get_kind_display()} needs to be reconnected.", needs_reconnect=True)
    try:
        grant = refresher(connection.refresh_token)
    except PlatformError as exc:
        if exc.needs_reconnect:
            connection.mark_needs_reauth()
            log.info("connection %s: refresh refused, needs reconnect", connection.pk)
        raise
    connection.store_tokens(grant.access_token, grant.refresh_token, grant.expires_at)
    log.info("connection %s: access token refreshed", connection.pk)


def with_access_token(connection: PlatformConnection, use: Callable[[str], T]) -> T:
    """``use(access_token)`` with a fresh token; on a 401, refresh once and try again."""
    if connection.state == PlatformConnection.State.NEEDS_REAUTH:
        raise PlatformError(f"{connection.get_kind_display()} needs to be reconnected.", needs_reconnect=True)
    if needs_refresh(connection) and connection.kind in REFRESHERS:
        refresh_tokens(connection)
    try:
        return use(connection.access_token)
    except Unauthorized:
        if connection.kind not in REFRESHERS:
            connection.mark_needs_reauth()
            raise
    refresh_tokens(connection)
    try:
        return use(connection.access_token)
    except Unauthorized:
        connection.mark_needs_reauth()
        raise
