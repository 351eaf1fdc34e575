"""What the studio page sees of a session, and pushing it over the Channels layer."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming.models import StreamSession

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"streams-user-{user_id}"


def session_payload(session_id: int) -> dict[str, object] | None:
    """Session and per-destination state, error message and viewers; no secret ever."""
    session = StreamSession.objects.filter(pk=session_id).first()
    if session is None:
        return None
    return {
        "session": {
            "id": session.pk,
            "state": session.state,
            "title": session.title,
            "end_reason": session.end_reason,
            "started_at": session.started_at.isoformat(),
            "ends_at": session.ends_at.isoformat() if session.ends_at else None,
            "ingest": session.source,  # what the engine probed of the publisher (size, fps, codecs)
        },
        "destinations": [
            {
                "id": d.pk,
                "label": d.label,
                "state": d.state,
                "error_message": d.error_message,
                "viewer_count": d.viewer_count,
                "rendition": d.rendition or "copy",
            }
            for d in session.destinations.all()
        ],
        "user_id": session.user_id,
    }


def push_session_status(session_id: int) -> None:
    """Send the session's state to its owner's WebSocket group; a broken layer never breaks streaming."""
    payload = session_payload(session_id)
    if payload is None:
        return
    user_id = payload.pop("user_id")
    push_to_user(int(user_id), {"type": "stream.status", **payload})  # type: ignore[call-overload]


def push_to_user(user_id: int, message: dict[str, object]) -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception:
        logger.warning("could not push stream status to user %s", user_id, exc_info=True)
