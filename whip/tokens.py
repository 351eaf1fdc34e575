"""Short-lived studio tokens: what the browser studio sends as its WHIP bearer token.

The browser never holds the stream key. The studio's WebSocket consumer mints a token for its
user (``mint_studio_token``); the WHIP server checks it (``verify_studio_token``). A token is
signed (Django's signer, SECRET_KEY, a salt of its own so no other signed value of the site
passes as one), names its user, its expiry and the generation of the user's ingest key: a
regenerated key voids every token minted before it. It is checked once, when a WHIP session
starts: a running session is not cut when its token expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

from accounts.models import User
from streaming.models import IngestKey

TOKEN_PREFIX = "whip_"  # noqa: S105 - a prefix, not a secret
# A salt of its own: a token is good for publishing over WHIP and for nothing else.
_SIGNER_SALT = "prism.whip.studio-token"
# Dots, not Django's colons: a bearer token (RFC 6750 b64token) cannot hold a colon.
_SEPARATOR = "."


class TokenRefused(Exception):
    """The token does not let anyone publish; ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StudioToken:
    user_id: int
    expires_at: datetime


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SIGNER_SALT, sep=_SEPARATOR)


def _key_generation(key: IngestKey) -> int:
    return int(key.created_at.timestamp() * 1_000_000)


def mint_studio_token(user: User) -> tuple[str, datetime]:
    """A token that lets ``user``'s browser studio start one WHIP session within minutes."""
    expires_at = (timezone.now() + timedelta(seconds=settings.WHIP_TOKEN_SECONDS)).replace(microsecond=0)
    payload = {
        "u": user.pk,
        "e": int(expires_at.timestamp()),
        "g": _key_generation(IngestKey.for_user(user)),
    }
    return TOKEN_PREFIX + _signer().sign_object(payload), expires_at


def is_studio_token(bearer: str) -> bool:
    return bearer.startswith(TOKEN_PREFIX)


def verify_studio_token(token: str, now: datetime | None = None) -> StudioToken:
    """The token's user and expiry, or TokenRefused with why (wrong, expired, key regenerated)."""
    if not is_studio_token(token):
        raise TokenRefused("This is not a studio token.")
    try:
        payload = _signer().unsign_object(token.removeprefix(TOKEN_PREFIX))
        user_id, expires, generation = int(payload["u"]), int(payload["e"]), int(payload["g"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise TokenRefused("The studio token is not valid.") from None
    expires_at = datetime.fromtimestamp(expires, tz=UTC)
    if (now or timezone.now()) >= expires_at:
        raise TokenRefused("The studio token has expired: reload the studio to get a new one.")
    key = IngestKey.objects.filter(user_id=user_id).first()
    if key is None or _key_generation(key) != generation:
        raise TokenRefused("The studio token was minted for an ingest key that has since been replaced.")
    return StudioToken(user_id=user_id, expires_at=expires_at)
