"""Background token upkeep: the beat schedule refreshes tokens that are about to expire."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from platforms.errors import PlatformError
from platforms.models import PlatformConnection
from platforms.tokens import REFRESHERS, needs_refresh, refresh_tokens


@shared_task
def refresh_connection_token(connection_id: int) -> str:
    """Refresh one connection's token if it still needs it. Idempotent; returns what happened."""
    connection = PlatformConnection.objects.filter(pk=connection_id).first()
    if connection is None or connection.state == PlatformConnection.State.NEEDS_REAUTH:
        return "skipped"
    if not needs_refresh(connection):
        return "fresh"
    try:
        refresh_tokens(connection)
    except PlatformError:
        return "failed"
    return "refreshed"


@shared_task
def refresh_expiring_tokens() -> int:
    """Queue a refresh for every connection whose token expires within the margin; returns how many."""
    soon = timezone.now() + timedelta(seconds=settings.PLATFORM_TOKEN_REFRESH_MARGIN)
    ids = list(
        PlatformConnection.objects.filter(kind__in=list(REFRESHERS), token_expires_at__lte=soon)
        .exclude(state=PlatformConnection.State.NEEDS_REAUTH)
        .values_list("pk", flat=True)
    )
    for connection_id in ids:
        refresh_connection_token.delay(connection_id)
    return len(ids)
