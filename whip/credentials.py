"""Who is publishing: a WHIP bearer token (a studio token or a stream key) resolved to a user.

Runs in a worker thread of the WHIP server (Django's ORM is synchronous).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import User
from billing.models import plan_limits_for
from billing.plans import check_destination_count
from streaming.actions import active_connections
from streaming.models import KEY_PREFIX, IngestKey, StreamSession
from streaming.refusals import last_publish_refused
from whip.tokens import TokenRefused, is_studio_token, verify_studio_token


class Refused(Exception):
    """An HTTP refusal: ``status`` and a ``reason`` that is safe to show to the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Publisher:
    user_id: int
    via: str  # "studio" or "stream key": how the client authenticated (for logs)
    ingest_key: str = field(repr=False)  # a secret: never logged, never in argv


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header, or Refused(401)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "Send your studio token or stream key as a Bearer token (Authorization header).")
    return token.strip()


def publisher_for(token: str) -> Publisher:
    """The user a bearer token publishes as, with their ingest key; Refused(401) if it is no good."""
    if is_studio_token(token):
        try:
            studio = verify_studio_token(token)
        except TokenRefused as exc:
            raise Refused(401, exc.reason) from None
        key = IngestKey.objects.get(user_id=studio.user_id)
        return Publisher(user_id=studio.user_id, via="studio", ingest_key=key.key)
    if token.startswith(KEY_PREFIX):
        user_id = IngestKey.user_id_for(token)
        if user_id is not None:
            return Publisher(user_id=user_id, via="stream key", ingest_key=token)
    raise Refused(401, "This token is neither a valid studio token nor a stream key.")


def refusal_before_publish(user_id: int) -> str | None:
    """Why the ingest would refuse this user's publish right now, if it would (None: go ahead).

    The ingest's on_publish stays the judge; this answers the WHIP POST with the reason instead of
    letting the client find out from a closed connection.
    """
    busy = StreamSession.objects.filter(
        user_id=user_id, state__in=StreamSession.ACTIVE, publisher_connected=True
    ).exists()
    if busy:
        return "You are already live from another publisher (OBS or another studio): stop it first."
    user = User.objects.get(pk=user_id)
    decision = check_destination_count(plan_limits_for(user), len(active_connections(user)))
    return None if decision else decision.message


def engine_refusal_since(user_id: int, since: float) -> str:
    """Why the engine refused this user's publish at or after ``since`` (epoch seconds), or "".

    nginx-rtmp only closes a refused publisher's connection; the engine's on_publish recorded why
    (streaming.refusals), so a WHIP session refused after its 201 can end with that reason.
    """
    refusal = last_publish_refused(user_id)
    return refusal.message if refusal is not None and refusal.at >= since else ""
