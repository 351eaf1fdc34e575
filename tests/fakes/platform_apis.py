"""What the three platform fakes share: an in-memory OAuth2 grant store, and one way to start them all.

The fakes themselves live in ``google_api.py`` (Google OAuth + YouTube Data API v3),
``twitch_api.py`` (id.twitch.tv + Helix + ingests) and ``facebook_api.py`` (Facebook Login + Graph API).
Each is a ``FakeService`` on its own 127.0.0.1 port; ``running_platform_fakes()`` starts all three::

    with running_platform_fakes() as fakes:
        fakes.google.ingestion_address = "rtmp://127.0.0.1:1935/live2"
        requests.get(fakes.twitch.url + "/ingests")
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.fakes.http_server import Reply, Request

if TYPE_CHECKING:
    from tests.fakes.facebook_api import FakeFacebook
    from tests.fakes.google_api import FakeGoogle
    from tests.fakes.twitch_api import FakeTwitch


@dataclass
class OAuthClient:
    """A registered app. ``redirect_uris`` empty means any redirect URI is accepted."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()

    def allows(self, redirect_uri: str | None) -> bool:
        return bool(redirect_uri) and (not self.redirect_uris or redirect_uri in self.redirect_uris)


@dataclass
class AuthCode:
    code: str
    user_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    extra: dict[str, str] = field(default_factory=dict)  # nonce, access_type, PKCE challenge ...


@dataclass
class AccessToken:
    token: str
    user_id: str | None  # None for an app (client-credentials) token
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False

    @property
    def expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    @property
    def usable(self) -> bool:
        return not self.revoked and time.time() < self.expires_at


@dataclass
class RefreshToken:
    token: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


class GrantStore:
    """Codes, access tokens and refresh tokens of one fake platform, with the test controls on them.

    Codes are single use and live ``code_ttl`` seconds; access tokens expire after the TTL passed
    to ``issue_access`` or when a test calls ``expire_access``; refresh tokens live until revoked.
    """

    def __init__(self, code_ttl: float = 600.0) -> None:
        self.lock = threading.RLock()
        self.code_ttl = code_ttl
        self.codes: dict[str, AuthCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    def issue_code(
        self,
        user_id: str,
        client_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        prefix: str = "",
        **extra: str,
    ) -> AuthCode:
        code = AuthCode(
            prefix + secrets.token_urlsafe(24),
            user_id,
            client_id,
            redirect_uri,
            scopes,
            time.time() + self.code_ttl,
            dict(extra),
        )
        with self.lock:
            self.codes[code.code] = code
        return code

    def redeem_code(self, code: str | None) -> AuthCode | None:
        """The code, removed from the store (codes are single use), or None if unknown or stale."""
        with self.lock:
            found = self.codes.pop(code or "", None)
        if found is None or found.expires_at < time.time():
            return None
        return found

    def issue_access(
        self, user_id: str | None, client_id: str, scopes: tuple[str, ...], ttl: float, prefix: str = ""
    ) -> AccessToken:
        token = AccessToken(prefix + secrets.token_urlsafe(32), user_id, client_id, scopes, time.time() + ttl)
        with self.lock:
            self.access[token.token] = token
        return token

    def issue_refresh(
        self, user_id: str, client_id: str, scopes: tuple[str, ...], prefix: str = ""
    ) -> RefreshToken:
        token = RefreshToken(prefix + secrets.token_urlsafe(32), user_id, client_id, scopes)
        with self.lock:
            self.refresh[token.token] = token
        return token

    def valid_access(self, token: str | None) -> AccessToken | None:
        found = self.access.get(token or "")
        return found if found is not None and found.usable else None

    def valid_refresh(self, token: str | None, client_id: str) -> RefreshToken | None:
        found = self.refresh.get(token or "")
        if found is None or found.revoked or found.client_id != client_id:
            return None
        return found

    # -- test controls -------------------------------------------------------------------------------

    def expire_access(self, token: str | None = None) -> None:
        """Make one access token (or every one, when ``token`` is None) expired as of now."""
        with self.lock:
            for grant in self.access.values():
                if token is None or grant.token == token:
                    grant.expires_at = time.time() - 1

    def revoke_refresh(self, token: str | None = None) -> None:
        """Revoke one refresh token (or every one), as a user removing the app's access would."""
        with self.lock:
            for grant in self.refresh.values():
                if token is None or grant.token == token:
                    grant.revoked = True

    def revoke_access(self, token: str | None = None) -> None:
        with self.lock:
            for grant in self.access.values():
                if token is None or grant.token == token:
                    grant.revoked = True


def bearer_token(request: Request, schemes: tuple[str, ...] = ("bearer",)) -> str | None:
    """The token from ``Authorization: <scheme> <token>``, if the scheme is one of ``schemes``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() in schemes else None


def redirect_to(url: str, params: dict[str, str], fragment: str = "") -> Reply:
    """A 302 to ``url`` with ``params`` added to its query string (as an authorize endpoint answers)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    location = urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(query), fragment or parts.fragment)
    )
    return Reply(302, headers={"Location": location})


def client_credentials(request: Request) -> tuple[str | None, str | None]:
    """client_id / client_secret from HTTP Basic auth or from the form/query (RFC 6749 §2.3.1)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        user, _, password = base64.b64decode(value).decode().partition(":")
        return urllib.parse.unquote(user), urllib.parse.unquote(password)
    return request.arg("client_id"), request.arg("client_secret")


@dataclass
class PlatformFakes:
    google: FakeGoogle
    twitch: FakeTwitch
    facebook: FakeFacebook


@contextmanager
def running_platform_fakes() -> Iterator[PlatformFakes]:
    """Start FakeGoogle, FakeTwitch and FakeFacebook (each on its own loopback port); stop them after."""
    # Imported here: the three modules import GrantStore & co. from this one.
    from tests.fakes.facebook_api import FakeFacebook
    from tests.fakes.google_api import FakeGoogle
    from tests.fakes.twitch_api import FakeTwitch

    with ExitStack() as stack:
        yield PlatformFakes(
            google=stack.enter_context(FakeGoogle()),
            twitch=stack.enter_context(FakeTwitch()),
            facebook=stack.enter_context(FakeFacebook()),
        )
