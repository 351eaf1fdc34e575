"""The studio's live status socket: ``ws/streams/``.

Authenticates, joins the owner's group (``streaming.status.user_group``), sends the current
status at once (and the last refused publish, if recent), relays the engine's pushes (status,
warnings, refused publishes) and takes two messages from the page: ``ping`` and ``stop``, plus
the messages higher apps register (``register_message``: the studio's ``go_live`` and
``audio_settings``). Everything it sends is rebuilt from an allow-list of fields, so a secret
added to an engine payload later (a stream key, a target URL) can never reach a browser.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from streaming import actions
from streaming.models import StreamSession
from streaming.refusals import last_publish_refused
from streaming.status import session_payload, user_group

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401
MAX_MESSAGE_CHARS = 1024
SESSION_FIELDS = ("id", "state", "title", "end_reason", "started_at", "ends_at")
INGEST_FIELDS = ("width", "height", "fps", "video_codec", "audio_codec")
DESTINATION_FIELDS = ("id", "label", "state", "error_message", "viewer_count", "rendition")


# A message handler a higher app registers (from its AppConfig.ready()): given the user's id and
# the parsed message, it validates the message itself and returns the reply to send.
MessageHandler = Callable[[int, dict[str, Any]], Awaitable[dict[str, object]]]
REGISTERED_MESSAGES: dict[str, MessageHandler] = {}


def register_message(kind: str, handler: MessageHandler) -> None:
    """Let a higher app (the studio) answer messages of type ``kind`` on this socket."""
    if kind in ("ping", "stop"):
        raise ValueError(f"{kind!r} is the status socket's own message")
    REGISTERED_MESSAGES[kind] = handler


def public_status(payload: dict[str, Any] | None) -> dict[str, object]:
    """The ``status`` message for a session payload (None: no session yet), allow-listed fields only."""
    if payload is None or not isinstance(payload.get("session"), dict):
        return {"type": "status", "session": None, "destinations": []}
    session = payload["session"]
    ingest = session.get("ingest")
    return {
        "type": "status",
        "session": {
            **{name: session.get(name) for name in SESSION_FIELDS},
            "ingest": {name: ingest.get(name) for name in INGEST_FIELDS}
            if isinstance(ingest, dict)
            else None,
        },
        "destinations": [
            {name: dest.get(name) for name in DESTINATION_FIELDS}
            for dest in payload.get("destinations", [])
            if isinstance(dest, dict)
        ],
    }


def public_refusal(event: dict[str, Any]) -> dict[str, object]:
    """The ``refused`` message (a publish was refused: why, and the upgrade link if it is the plan)."""
    link = str(event.get("upgrade_url") or "")
    return {
        "type": "refused",
        "message": str(event.get("message", ""))[:300],
        # Only a link of ours (an absolute http(s) URL built by billing.prompts) ever reaches the page.
        "upgrade_url": link if link.startswith(("https://", "http://")) else "",
    }


def stored_refusal(user_id: int) -> dict[str, object] | None:
    refusal = last_publish_refused(user_id)
    if refusal is None:
        return None
    return public_refusal({"message": refusal.message, "upgrade_url": refusal.upgrade_url})


def latest_status(user_id: int) -> dict[str, object]:
    """The user's open session, else their most recent one."""
    session = (
        StreamSession.objects.filter(user_id=user_id, state__in=StreamSession.ACTIVE).first()
        or StreamSession.objects.filter(user_id=user_id).order_by("-started_at", "-pk").first()
    )
    return public_status(session_payload(session.pk) if session else None)


def stop_own_session(user_id: int, session_id: int) -> bool:
    """Stop ``session_id`` if it is the user's and still running; False otherwise (no hint which)."""
    if not StreamSession.objects.filter(
        pk=session_id, user_id=user_id, state__in=StreamSession.ACTIVE
    ).exists():
        return False
    return actions.stop_session(session_id)


class StreamStatusConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accept, then close with a code the page can read (a refused handshake is just 1006).
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user_id = int(user.pk)
        self.group = user_group(self.user_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(await database_sync_to_async(latest_status)(self.user_id))
        refusal = await database_sync_to_async(stored_refusal)(self.user_id)
        if refusal is not None:
            await self.send_json(refusal)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Parse defensively: any malformed frame gets an error message, never a crash."""
        if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
            await self.refuse("Send a short JSON text message.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.refuse("That is not JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.group is None:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping" and len(content) == 1:
            await self.send_json({"type": "pong"})
            return
        if kind == "stop" and set(content) == {"type", "session"}:
            session_id = content["session"]
            # bool is an int in Python: refuse it explicitly.
            if isinstance(session_id, int) and not isinstance(session_id, bool):
                if await database_sync_to_async(stop_own_session)(self.user_id, session_id):
                    await self.send_json({"type": "stopping", "session": session_id})
                    return
                await self.refuse("No running stream of yours with that id.")
                return
        handler = REGISTERED_MESSAGES.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            try:
                reply = await handler(self.user_id, content)
            except Exception:
                # A bug in a handler must not take the creator's live status down with it.
                logger.exception("message %r failed for user %s", kind, self.user_id)
                await self.refuse("That did not work; try again in a moment.")
                return
            await self.send_json(reply)
            return
        kinds = ", ".join(sorted(["ping", "stop", *REGISTERED_MESSAGES]))
        await self.refuse(f"Unknown or malformed message; this socket takes: {kinds}.")

    async def refuse(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    # Messages from the engine over the channel layer (streaming.status, streaming.tasks).

    async def stream_status(self, event: dict[str, Any]) -> None:
        await self.send_json(public_status(event))

    async def stream_refused(self, event: dict[str, Any]) -> None:
        await self.send_json(public_refusal(event))
        # Whatever the refused publish touched is gone: show the session as it really is.
        await self.send_json(await database_sync_to_async(latest_status)(self.user_id))

    async def stream_warning(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "warning", "message": str(event.get("message", ""))[:500]})
