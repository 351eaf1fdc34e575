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
from django.db import transaction
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
    """Renew the access token (and a rotated refresh token). On refusal: NEEDS_REAUTH, PlatformError.

    Beat, viewer polling and supervisors may refresh one connection at once. With rotated refresh
    tokens (Twitch) the second refresh would present a token the first just used up, and mark a
    healthy destination "needs reconnect". So a refresh holds the connection's row lock, and first
    checks whether another refresh renewed the tokens since ``connection`` was read: then it takes
    those instead of asking the platform again.
    """
    refresher = REFRESHERS.get(connection.kind)
    if refresher is None or not connection.refresh_token:
        connection.mark_needs_reauth()
        raise PlatformError(f"{connection.get_kind_display()} needs to be reconnected.", needs_reconnect=True)
    seen = connection.access_token
    refused: PlatformError | None = None
    with transaction.atomic():
        row = PlatformConnection.objects.select_for_update().get(pk=connection.pk)
        if row.access_token != seen and row.state != PlatformConnection.State.NEEDS_REAUTH:
            _take_tokens(connection, row)
            log.info("connection %s: access token refreshed meanwhile, reused", connection.pk)
            return
        try:
            grant = refresher(row.refresh_token)
        except PlatformError as exc:
            refused = exc
        else:
            connection.store_tokens(grant.access_token, grant.refresh_token, grant.expires_at)
    if refused is not None:
        if refused.needs_reconnect:
            connection.mark_needs_reauth()
            log.info("connection %s: refresh refused, needs reconnect", connection.pk)
        raise refused
    log.info("connection %s: access token refreshed", connection.pk)


def _take_tokens(connection: PlatformConnection, row: PlatformConnection) -> None:
    connection.access_token, connection.refresh_token = row.access_token, row.refresh_token
    connection.token_expires_at, connection.state = row.token_expires_at, row.state


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
