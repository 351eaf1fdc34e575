"""The WHIP endpoint (RFC 9725) of one media node.

``POST /whip`` (``application/sdp``, ``Authorization: Bearer <studio token or stream key>``) →
``201 Created``, the SDP answer and the session's ``Location``; ``DELETE <Location>`` ends the
session; ``PATCH`` (trickle ICE) answers 405: every candidate is in the offer and the answer.
``OPTIONS`` answers CORS preflights from ``WHIP_ALLOWED_ORIGINS`` (the studio page is on the web
origin, the endpoint on its own port), and every answer to an allowed origin exposes ``Location``.

Refusals carry a reason in ``text/plain``: 401 (no, wrong or expired token), 403 (another user's
session, or the plan refuses the publish), 400 (an offer we cannot answer), 404, 405, 415, 503.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from django.db import close_old_connections

from whip.credentials import Publisher, Refused, bearer_token, publisher_for, refusal_before_publish
from whip.http import Request, Response
from whip.sdp import InvalidOffer, OfferSummary, check_offer
from whip.sessions import SessionSettings, WhipSession

logger = logging.getLogger(__name__)

ENDPOINT = "/whip"
SESSIONS = "/whip/sessions/"
ALLOWED_METHODS = "OPTIONS, POST"
SESSION_METHODS = "OPTIONS, DELETE, PATCH"


async def in_thread(fn, *args):  # type: ignore[no-untyped-def]
    """Run a synchronous ORM call off the loop, leaving no stale connection behind."""

    def call():  # type: ignore[no-untyped-def]
        try:
            return fn(*args)
        finally:
            close_old_connections()

    return await asyncio.to_thread(call)


@dataclass
class WhipServer:
    settings: SessionSettings
    public_url: str
    allowed_origins: tuple[str, ...]
    max_sessions: int
    sessions: dict[str, WhipSession] = field(default_factory=dict)

    # ------------------------------------------------------------------ routing

    async def handle(self, request: Request) -> Response:
        response = await self._route(request)
        origin = request.header("origin")
        if origin and origin in self.allowed_origins:
            response.headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Expose-Headers": "Location, Link",
                    "Vary": "Origin",
                }
            )
        return response

    async def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == ENDPOINT:
            methods, session_id = ALLOWED_METHODS, None
        elif request.path.startswith(SESSIONS) and "/" not in request.path[len(SESSIONS) :]:
            methods, session_id = SESSION_METHODS, request.path[len(SESSIONS) :]
        else:
            return Response.text(404, "Not found: the WHIP endpoint is /whip.")
        if request.method == "OPTIONS":
            return self._preflight(request, methods)
        if request.method not in methods.split(", "):
            return Response.text(405, f"Allowed: {methods}.", Allow=methods)
        try:
            if session_id is None:
                return await self._post(request)
            if request.method == "PATCH":
                return Response.text(
                    405,
                    "Trickle ICE is not supported: send every candidate in the offer.",
                    Allow="OPTIONS, DELETE",
                )
            return await self._delete(request, session_id)
        except Refused as exc:
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else {}
            return Response.text(exc.status, exc.reason, **headers)

    def _preflight(self, request: Request, methods: str) -> Response:
        headers = {"Allow": methods}
        if request.path.rstrip("/") == ENDPOINT:
            headers["Accept-Post"] = "application/sdp"
        origin = request.header("origin")
        if origin is not None:
            if origin not in self.allowed_origins:
                return Response.text(403, "This origin may not use the WHIP endpoint.", **headers)
            headers.update(
                {
                    "Access-Control-Allow-Methods": methods,
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
                    "Access-Control-Max-Age": "600",
                }
            )
        return Response(204, headers=headers)

    # ------------------------------------------------------------------ POST: a new session

    async def _post(self, request: Request) -> Response:
        content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/sdp":
            return Response.text(415, "Send the offer as Content-Type: application/sdp.")
        token = bearer_token(request.header("authorization"))
        publisher: Publisher = await in_thread(publisher_for, token)
        try:
            offer_sdp = request.body.decode("utf-8")
            offer: OfferSummary = check_offer(offer_sdp)
        except (UnicodeDecodeError, InvalidOffer) as exc:
            reason = str(exc) if isinstance(exc, InvalidOffer) else "The offer is not UTF-8 text."
            return Response.text(400, reason)
        if any(s.user_id == publisher.user_id and s.state != "ended" for s in self.sessions.values()):
            return Response.text(409, "You already publish to this node: end that session first (DELETE).")
        if len(self.sessions) >= self.max_sessions:
            return Response.text(503, "This media node is full: try again later.", **{"Retry-After": "30"})
        refusal = await in_thread(refusal_before_publish, publisher.user_id)
        if refusal is not None:
            return Response.text(403, refusal)
        session = WhipSession(publisher, token, offer, self.settings, self._forget)
        self.sessions[session.id] = session
        try:
            answer = await session.answer(offer_sdp, offer)
        except Exception as exc:  # aiortc refuses offers it cannot answer (ValueError, OperationError…)
            await session.end("negotiation failed")
            return Response.text(400, f"The offer could not be answered: {exc}")
        logger.info(
            "whip session %s started for user %s via %s", session.id[:8], session.user_id, session.via
        )
        return Response(
            201,
            answer.encode(),
            {
                "Content-Type": "application/sdp",
                "Location": f"{self.public_url}/sessions/{session.id}",
                "ETag": f'"{session.id[:12]}"',
            },
        )

    # ------------------------------------------------------------------ DELETE: end a session

    async def _delete(self, request: Request, session_id: str) -> Response:
        token = bearer_token(request.header("authorization"))
        session = self.sessions.get(session_id)
        if session is None:
            return Response.text(404, "No such WHIP session (it has ended).")
        if not session.created_with(token):
            # The token that started it (even expired) ends it; so does any valid one of the same user.
            other: Publisher = await in_thread(publisher_for, token)
            if other.user_id != session.user_id:
                return Response.text(403, "This WHIP session belongs to another user.")
        await session.end("The publisher ended the WHIP session.")
        return Response(200)

    def _forget(self, session: WhipSession) -> None:
        self.sessions.pop(session.id, None)

    async def close_all(self, reason: str) -> None:
        """End every session (server shutdown): each publisher leaves the ingest cleanly."""
        ending = [session.end(reason) for session in list(self.sessions.values())]
        if ending:
            await asyncio.gather(*ending, return_exceptions=True)
