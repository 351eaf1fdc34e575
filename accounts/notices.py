"""Persistent, dismissible notices: written by actions, shown by base.html until dismissed."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Notice

SHOWN_AT_ONCE = 5


def notify(
    user_id: int, message: str, *, with_pricing: bool = False, level: str = Notice.Level.WARNING
) -> Notice:
    """Show ``message`` to the user until dismissed; the same message still on show is not repeated
    (a creator at their storage limit who goes live ten times sees one notice, not ten)."""
    notice, _ = Notice.objects.get_or_create(
        user_id=user_id,
        message=message[:500],
        dismissed_at=None,
        defaults={"level": level, "link_to_pricing": with_pricing},
    )
    return notice


def dismiss(user_id: int, notice_id: int) -> bool:
    """Dismiss the user's own notice; False if there is no such undismissed notice of theirs."""
    return (
        Notice.objects.filter(pk=notice_id, user_id=user_id, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now()
        )
        == 1
    )


def active_notices(request: HttpRequest) -> dict[str, object]:
    """Context processor: the signed-in creator's undismissed notices, newest first."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"notices": []}
    return {"notices": list(Notice.objects.filter(user=user, dismissed_at__isnull=True)[:SHOWN_AT_ONCE])}
