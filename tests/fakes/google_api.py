"""FakeGoogle: Google's OAuth 2.0 / OpenID endpoints and the YouTube Data API v3 live-streaming calls.

One loopback server answers for all of Google's hosts (accounts.google.com, oauth2.googleapis.com,
www.googleapis.com); the paths are the real ones, so a client only swaps the origin:

    authorize   GET  /o/oauth2/v2/auth          token     POST /token
    userinfo    GET  /oauth2/v2/userinfo (allauth's default), /oauth2/v3/userinfo
    certs       GET  /oauth2/v1/certs (PEM, what allauth reads), /oauth2/v3/certs (JWKS)
    revoke      POST /revoke
    YouTube     /youtube/v3/liveStreams, /liveBroadcasts, /liveBroadcasts/bind, /liveBroadcasts/transition,
                /videos

Replies have Google's shapes, including its two error envelopes: ``{"error": "invalid_grant",
"error_description": ...}`` from the OAuth endpoints and ``{"error": {"code", "message", "errors": [...],
"status"}}`` from the APIs. Id tokens are RS256 JWTs signed with a key whose certificate and JWK are served.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.certificates import self_signed
from tests.fakes.http_server import FakeService, Reply, Request, route
from tests.fakes.platform_apis import (
    GrantStore,
    OAuthClient,
    bearer_token,
    client_credentials,
    redirect_to,
)

CLIENT_ID = "fake-google-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-google-secret"
ISSUER = "https://accounts.google.com"
SCOPE_ALIASES = {
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
    "email": "https://www.googleapis.com/auth/userinfo.email",
}
OPENID_SCOPES = {"openid", *SCOPE_ALIASES.values()}
YOUTUBE_SCOPES = {
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.force-ssl",
}
YOUTUBE_READ_SCOPES = YOUTUBE_SCOPES | {"https://www.googleapis.com/auth/youtube.readonly"}
# Units per call, from the YouTube Data API quota calculator.
QUOTA_COST = {"list": 1, "insert": 50, "update": 50, "delete": 50, "bind": 50, "transition": 50}
STATUS_TEXT = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


@dataclass
class GoogleUser:
    sub: str
    email: str
    name: str
    given_name: str
    family_name: str
    channel_id: str
    picture: str = "https://lh3.googleusercontent.com/a/fake-picture"
    email_verified: bool = True
    locale: str = "en"
    live_streaming_enabled: bool = True


@dataclass(frozen=True)
class SigningKey:
    private_pem: bytes
    kid: str
    certificate_pem: str
    jwk: dict[str, str]


@cache
def signing_key() -> SigningKey:
    """One RSA key per test process (generating one costs ~50 ms), with a self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "fake-google-oauth2", dt.timedelta(days=30))
    kid = secrets.token_hex(20)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey(private_pem, kid, cert.public_bytes(serialization.Encoding.PEM).decode(), jwk)


def oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def api_error(status: int, reason: str, message: str, domain: str = "global", **where: str) -> Reply:
    """Google's API error envelope (the same for every googleapis.com API)."""
    item = {"message": message, "domain": domain, "reason": reason, **where}
    body = {
        "error": {"code": status, "message": message, "errors": [item], "status": STATUS_TEXT.get(status, "")}
    }
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    return Reply(status, body, headers)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeGoogle(FakeService):
    """Google OAuth + YouTube live streaming, in memory. Public attributes are the test controls."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Forget all state (users, tokens, objects, controls, requests seen); the server keeps running."""
        with self.lock:
            self.requests.clear()
        self.grants = GrantStore()
        self.clients: dict[str, OAuthClient] = {CLIENT_ID: OAuthClient(CLIENT_ID, CLIENT_SECRET)}
        self.user = GoogleUser(
            sub="108" + "".join(secrets.choice("0123456789") for _ in range(18)),
            email="streamer@example.com",
            name="Sam Streamer",
            given_name="Sam",
            family_name="Streamer",
            channel_id="UC" + secrets.token_urlsafe(16)[:22],
        )
        self.users: dict[str, GoogleUser] = {self.user.sub: self.user}
        self.deny_consent = False  # the consent screen answers error=access_denied
        self.issuer = ISSUER
        self.access_token_ttl = 3599
        self.quota_limit = 10_000
        self.quota_used = 0
        self.ingestion_address = "rtmp://a.rtmp.youtube.com/live2"
        self.backup_ingestion_address = "rtmp://b.rtmp.youtube.com/live2?backup=1"
        self.rtmps_ingestion_address = "rtmps://a.rtmps.youtube.com/live2"
        self.rtmps_backup_ingestion_address = "rtmps://b.rtmps.youtube.com/live2?backup=1"
        self.streams: dict[str, dict[str, Any]] = {}
        self.broadcasts: dict[str, dict[str, Any]] = {}
        self.viewers: dict[str, int] = {}
        self._offline_consents: set[tuple[str, str]] = set()

    # -- URLs ------------------------------------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return self.url + "/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def userinfo_url(self) -> str:
        return self.url + "/oauth2/v2/userinfo"

    @property
    def certs_url(self) -> str:
        return self.url + "/oauth2/v1/certs"

    @property
    def youtube_url(self) -> str:
        return self.url + "/youtube/v3"

    # -- test controls ---------------------------------------------------------------------------------

    def add_user(self, **fields: Any) -> GoogleUser:
        """Add a user and make them the one who signs in on the next authorize request."""
        n = len(self.users) + 1
        defaults = dict(
            sub=f"10{n:019d}",
            email=f"user{n}@example.com",
            name=f"User {n}",
            given_name="User",
            family_name=str(n),
            channel_id="UC" + secrets.token_urlsafe(16)[:22],
        )
        user = GoogleUser(**{**defaults, **fields})
        self.users[user.sub] = self.user = user
        return user

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()
    ) -> None:
        self.clients[client_id] = OAuthClient(client_id, client_secret, redirect_uris)

    def expire_access_token(self, token: str | None = None) -> None:
        """The access token (default: all of them) is expired from now on: the APIs answer 401."""
        self.grants.expire_access(token)

    def revoke_refresh_token(self, token: str | None = None) -> None:
        """Refreshing with this token (default: any) now fails with invalid_grant."""
        self.grants.revoke_refresh(token)

    def exhaust_quota(self) -> None:
        """Every further YouTube call answers 403 quotaExceeded."""
        self.quota_used = self.quota_limit

    def set_stream_active(self, stream_id: str, active: bool = True) -> None:
        """Stand-in for video arriving at (or leaving) the ingest: status.streamStatus active/inactive.

        Bound broadcasts with enableAutoStart / enableAutoStop follow, as on YouTube.
        """
        with self.lock:
            stream = self.streams[stream_id]
            stream["status"] = {
                "streamStatus": "active" if active else "inactive",
                "healthStatus": {"status": "good" if active else "noData"},
            }
            for broadcast in self.broadcasts.values():
                details = broadcast["contentDetails"]
                if details.get("boundStreamId") != stream_id:
                    continue
                state = broadcast["status"]["lifeCycleStatus"]
                if active and details["enableAutoStart"] and state in ("ready", "testing"):
                    self._enter(broadcast, "live")
                if not active and details["enableAutoStop"] and state == "live":
                    self._enter(broadcast, "complete")

    def set_viewers(self, broadcast_id: str, viewers: int) -> None:
        self.viewers[broadcast_id] = viewers

    # -- OAuth 2.0 -------------------------------------------------------------------------------------

    @route("GET", r"/o/oauth2/(?:v2/)?auth")
    def authorize(self, request: Request) -> Reply:
        client = self.clients.get(request.arg("client_id") or "")
        redirect_uri = request.arg("redirect_uri")
        if client is None:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if not client.allows(redirect_uri):
            return oauth_error(400, "redirect_uri_mismatch", f"Unregistered redirect_uri: {redirect_uri}")
        assert redirect_uri is not None
        state = request.arg("state")
        if request.arg("response_type") != "code":
            return oauth_error(400, "unsupported_response_type", "Only response_type=code is faked.")
        if not state:  # not required by Google, but a login without state is a CSRF hole: fail loudly
            return oauth_error(400, "invalid_request", "The fake requires a state parameter.")
        requested = (request.arg("scope") or "").split()
        if not requested:
            return oauth_error(400, "invalid_request", "Missing required parameter: scope")
        unknown = [s for s in requested if s not in SCOPE_ALIASES and s != "openid" and "/auth/" not in s]
        if unknown:
            return redirect_to(redirect_uri, {"error": "invalid_scope", "state": state})
        if self.deny_consent:
            return redirect_to(redirect_uri, {"error": "access_denied", "state": state})
        scopes = {SCOPE_ALIASES.get(s, s) for s in requested}
        if scopes & OPENID_SCOPES:
            scopes.add("openid")
        extra = {
            k: v
            for k in ("nonce", "access_type", "prompt", "code_challenge", "code_challenge_method")
            if (v := request.arg(k))
        }
        code = self.grants.issue_code(
            self.user.sub, client.client_id, redirect_uri, tuple(sorted(scopes)), prefix="4/0A", **extra
        )
        return redirect_to(redirect_uri, {"state": state, "code": code.code, "scope": " ".join(code.scopes)})

    @route("POST", r"/token|/o/oauth2/token")
    def token(self, request: Request) -> Reply:
        client_id, secret = client_credentials(request)
        client = self.clients.get(client_id or "")
        if client is None or client.client_secret != secret:
            return oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = request.arg("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(request, client)
        if grant_type == "refresh_token":
            refresh = self.grants.valid_refresh(request.arg("refresh_token"), client.client_id)
            if refresh is None:
                return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            return Reply(200, self._token_body(refresh.user_id, client.client_id, refresh.scopes, None, None))
        return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, request: Request, client: OAuthClient) -> Reply:
        code = self.grants.redeem_code(request.arg("code"))
        if code is None or code.client_id != client.client_id:
            return oauth_error(400, "invalid_grant", "Malformed auth code.")
        if request.arg("redirect_uri") != code.redirect_uri:
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        challenge = code.extra.get("code_challenge")
        if challenge:
            verifier = request.arg("code_verifier") or ""
            if code.extra.get("code_challenge_method", "plain") == "S256":
                verifier = _b64(hashlib.sha256(verifier.encode()).digest())
            if verifier != challenge:
                return oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh = None
        if code.extra.get("access_type") == "offline":
            # Google hands out a refresh token on the first offline consent only, unless prompt=consent.
            first = (code.user_id, client.client_id) not in self._offline_consents
            if first or "consent" in code.extra.get("prompt", "").split():
                refresh = self.grants.issue_refresh(
                    code.user_id, client.client_id, code.scopes, prefix="1//0g"
                )
                self._offline_consents.add((code.user_id, client.client_id))
        body = self._token_body(code.user_id, client.client_id, code.scopes, refresh, code.extra.get("nonce"))
        return Reply(200, body)

    def _token_body(
        self, user_id: str, client_id: str, scopes: tuple[str, ...], refresh: Any, nonce: str | None
    ) -> dict[str, Any]:
        access = self.grants.issue_access(user_id, client_id, scopes, self.access_token_ttl, prefix="ya29.")
        body: dict[str, Any] = {
            "access_token": access.token,
            "expires_in": self.access_token_ttl,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if refresh is not None:
            body["refresh_token"] = refresh.token
        if "openid" in scopes:
            body["id_token"] = self.id_token(self.users[user_id], client_id, scopes, access.token, nonce)
        return body

    def id_token(
        self,
        user: GoogleUser,
        client_id: str,
        scopes: tuple[str, ...],
        access_token: str = "",
        nonce: str | None = None,
    ) -> str:
        """An RS256 id_token as Google issues it (also usable by tests for One Tap / login_by_token)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "azp": client_id,
            "aud": client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + 3600,
        }
        if access_token:
            claims["at_hash"] = _b64(hashlib.sha256(access_token.encode()).digest()[:16])
        if SCOPE_ALIASES["email"] in scopes:
            claims.update(email=user.email, email_verified=user.email_verified)
        if SCOPE_ALIASES["profile"] in scopes:
            claims.update(
                name=user.name,
                picture=user.picture,
                given_name=user.given_name,
                family_name=user.family_name,
                locale=user.locale,
            )
        if nonce:
            claims["nonce"] = nonce
        key = signing_key()
        return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})

    @route("GET", r"/oauth2/v2/userinfo|/oauth2/v1/userinfo")
    def userinfo_v2(self, request: Request) -> Reply:
        access = self.grants.valid_access(bearer_token(request))
        if access is None or access.user_id is None:
            return api_error(401, "authError", "Request is missing required authentication credential.")
        user = self.users[access.user_id]
        info: dict[str, Any] = {"id": user.sub}
        if SCOPE_ALIASES["email"] in access.scopes:
            info.update(email=user.email, verified_email=user.email_verified)
        if SCOPE_ALIASES["profile"] in access.scopes:
            info.update(
                name=user.name,
                given_name=user.given_name,
                family_name=user.family_name,
                picture=user.picture,
                locale=user.locale,
            )
        return Reply(200, info)

    @route("GET", r"/oauth2/v3/userinfo|/v1/userinfo")
    def userinfo_v3(self, request: Request) -> Reply:
        access = self.grants.valid_access(bearer_token(request))
        if access is None or access.user_id is None:
            return oauth_error(401, "invalid_request", "Invalid Credentials")
        user = self.users[access.user_id]
        info: dict[str, Any] = {"sub": user.sub}
        if SCOPE_ALIASES["profile"] in access.scopes:
            info.update(
                name=user.name,
                given_name=user.given_name,
                family_name=user.family_name,
                picture=user.picture,
                locale=user.locale,
            )
        if SCOPE_ALIASES["email"] in access.scopes:
            info.update(email=user.email, email_verified=user.email_verified)
        return Reply(200, info)

    @route("GET", r"/oauth2/v1/certs")
    def certs_pem(self, request: Request) -> Reply:
        key = signing_key()
        return Reply(200, {key.kid: key.certificate_pem})

    @route("GET", r"/oauth2/v3/certs")
    def certs_jwks(self, request: Request) -> Reply:
        return Reply(200, {"keys": [signing_key().jwk]})

    @route("POST", r"/revoke|/o/oauth2/revoke")
    def revoke(self, request: Request) -> Reply:
        token = request.arg("token") or ""
        with self.grants.lock:
            if token in self.grants.refresh:
                refresh = self.grants.refresh[token]
                refresh.revoked = True
                # Revoking a refresh token also revokes the access tokens of the same grant.
                for access in self.grants.access.values():
                    if (access.user_id, access.client_id) == (refresh.user_id, refresh.client_id):
                        access.revoked = True
            elif token in self.grants.access:
                self.grants.access[token].revoked = True
            else:
                return oauth_error(400, "invalid_token", "Token expired or revoked")
        return Reply(200, {})

    # -- YouTube Data API v3 ---------------------------------------------------------------------------

    def _caller(self, request: Request, cost: int, write: bool = True) -> GoogleUser | Reply:
        """The channel owner behind the bearer token, or the error reply YouTube would give."""
        token = bearer_token(request)
        if token is None:
            return api_error(
                401,
                "required",
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
                location="Authorization",
                locationType="header",
            )
        access = self.grants.valid_access(token)
        if access is None or access.user_id is None:
            return api_error(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                location="Authorization",
                locationType="header",
            )
        if not set(access.scopes) & (YOUTUBE_SCOPES if write else YOUTUBE_READ_SCOPES):
            return api_error(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )
        with self.lock:
            if self.quota_used + cost > self.quota_limit:
                return api_error(
                    403,
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your "
                    '<a href="/youtube/v3/getting-started#quota">quota</a>.',
                    domain="youtube.quota",
                )
            self.quota_used += cost
        return self.users[access.user_id]

    def _begin(self, request: Request, cost: int, write: bool = True) -> tuple[GoogleUser, set[str]] | Reply:
        caller = self._caller(request, cost, write)
        if isinstance(caller, Reply):
            return caller
        parts = self._parts(request)
        return parts if isinstance(parts, Reply) else (caller, parts)

    @staticmethod
    def _parts(request: Request) -> set[str] | Reply:
        part = request.arg("part")
        if not part:
            return api_error(
                400, "required", "Required parameter: part", location="part", locationType="parameter"
            )
        return {p.strip() for p in part.split(",")}

    def _render(self, kind: str, resource: dict[str, Any], parts: set[str]) -> dict[str, Any]:
        shown = {p: v for p, v in resource.items() if p in parts and not p.startswith("_")}
        if kind == "liveStream" and "cdn" in shown:
            shown["cdn"] = {
                **shown["cdn"],
                "ingestionInfo": {
                    "streamName": resource["_stream_name"],
                    "ingestionAddress": self.ingestion_address,
                    "backupIngestionAddress": self.backup_ingestion_address,
                    "rtmpsIngestionAddress": self.rtmps_ingestion_address,
                    "rtmpsBackupIngestionAddress": self.rtmps_backup_ingestion_address,
                },
            }
        etag = _b64(hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).digest())
        return {"kind": f"youtube#{kind}", "etag": etag, "id": resource["id"], **shown}

    def _list(self, kind: str, items: list[dict[str, Any]], parts: set[str]) -> Reply:
        return Reply(
            200,
            {
                "kind": f"youtube#{kind}ListResponse",
                "etag": secrets.token_urlsafe(20),
                "pageInfo": {"totalResults": len(items), "resultsPerPage": max(5, len(items))},
                "items": [self._render(kind, item, parts) for item in items],
            },
        )

    @staticmethod
    def _not_enabled() -> Reply:
        return api_error(
            403,
            "liveStreamingNotEnabled",
            "The user is not enabled for live streaming.",
            domain="youtube.liveBroadcast",
        )

    @route("POST", r"/youtube/v3/liveStreams")
    def insert_stream(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["insert"])
        if isinstance(begun, Reply):
            return begun
        caller, parts = begun
        if not caller.live_streaming_enabled:
            return self._not_enabled()
        body = request.json or {}
        snippet, cdn = body.get("snippet") or {}, body.get("cdn") or {}
        for name, value in (
            ("title", snippet.get("title")),
            ("ingestionType", cdn.get("ingestionType")),
            ("resolution", cdn.get("resolution")),
            ("frameRate", cdn.get("frameRate")),
        ):
            if not value:
                return api_error(
                    400, f"{name}Required", f"The {name} is required.", domain="youtube.liveStream"
                )
        stream = {
            "id": f"{caller.channel_id[2:]}{int(time.time() * 1000)}{secrets.randbelow(1000)}",
            "_stream_name": "-".join(secrets.token_hex(2) for _ in range(5)),
            "snippet": {
                "publishedAt": now_rfc3339(),
                "channelId": caller.channel_id,
                "title": snippet["title"],
                "description": snippet.get("description", ""),
                "isDefaultStream": False,
            },
            "cdn": {
                "ingestionType": cdn["ingestionType"],
                "resolution": cdn["resolution"],
                "frameRate": cdn["frameRate"],
            },
            "status": {"streamStatus": "ready", "healthStatus": {"status": "noData"}},
            "contentDetails": {
                "closedCaptionsIngestionUrl": "http://upload.youtube.com/closedcaption?cid="
                + secrets.token_hex(8),
                "isReusable": (body.get("contentDetails") or {}).get("isReusable", True),
            },
        }
        with self.lock:
            self.streams[stream["id"]] = stream
        return Reply(200, self._render("liveStream", stream, parts))

    @route("GET", r"/youtube/v3/liveStreams")
    def list_streams(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["list"], write=False)
        if isinstance(begun, Reply):
            return begun
        caller, parts = begun
        mine = [s for s in self.streams.values() if s["snippet"]["channelId"] == caller.channel_id]
        ids = request.arg("id")
        if ids is not None:
            wanted = ids.split(",")
            mine = [s for s in mine if s["id"] in wanted]
        elif request.arg("mine") != "true":
            return api_error(400, "missingRequiredParameter", "No filter selected. Expected one of: mine, id")
        return self._list("liveStream", mine, parts)

    @route("POST", r"/youtube/v3/liveBroadcasts")
    def insert_broadcast(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["insert"])
        if isinstance(begun, Reply):
            return begun
        caller, parts = begun
        if not caller.live_streaming_enabled:
            return self._not_enabled()
        body = request.json or {}
        snippet = body.get("snippet") or {}
        if not snippet.get("title"):
            return api_error(400, "titleRequired", "The title is required.", domain="youtube.liveBroadcast")
        if not snippet.get("scheduledStartTime"):
            return api_error(
                400,
                "scheduledStartTimeRequired",
                "Scheduled start time required.",
                domain="youtube.liveBroadcast",
            )
        given = body.get("contentDetails") or {}
        details: dict[str, Any] = {
            "monitorStream": {"enableMonitorStream": True, "broadcastStreamDelayMs": 0},
            "enableEmbed": True,
            "enableDvr": True,
            "recordFromStart": True,
            "enableClosedCaptions": False,
            "closedCaptionsType": "closedCaptionsDisabled",
            "projection": "rectangular",
            "enableLowLatency": False,
            "latencyPreference": "normal",
            "enableAutoStart": False,
            "enableAutoStop": False,
        }
        details.update({k: v for k, v in given.items() if k != "monitorStream"})
        details["monitorStream"].update(given.get("monitorStream") or {})
        status = body.get("status") or {}
        broadcast_id = secrets.token_urlsafe(8)[:11]
        broadcast = {
            "id": broadcast_id,
            "snippet": {
                "publishedAt": now_rfc3339(),
                "channelId": caller.channel_id,
                "title": snippet["title"],
                "description": snippet.get("description", ""),
                "scheduledStartTime": snippet["scheduledStartTime"],
                "liveChatId": "KicKGFVD" + secrets.token_urlsafe(24),
                "isDefaultBroadcast": False,
            },
            "status": {
                "lifeCycleStatus": "created",
                "privacyStatus": status.get("privacyStatus", "private"),
                "recordingStatus": "notRecording",
                "madeForKids": False,
                "selfDeclaredMadeForKids": bool(status.get("selfDeclaredMadeForKids", False)),
            },
            "contentDetails": details,
        }
        with self.lock:
            self.broadcasts[broadcast_id] = broadcast
        return Reply(200, self._render("liveBroadcast", broadcast, parts))

    @route("GET", r"/youtube/v3/liveBroadcasts")
    def list_broadcasts(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["list"], write=False)
        if isinstance(begun, Reply):
            return begun
        caller, parts = begun
        mine = [b for b in self.broadcasts.values() if b["snippet"]["channelId"] == caller.channel_id]
        ids, status_filter = request.arg("id"), request.arg("broadcastStatus")
        if ids is not None:
            mine = [b for b in mine if b["id"] in ids.split(",")]
        elif status_filter:
            wanted = {
                "active": {"live", "testing"},
                "upcoming": {"created", "ready"},
                "completed": {"complete"},
            }.get(status_filter)
            mine = [b for b in mine if wanted is None or b["status"]["lifeCycleStatus"] in wanted]
        elif request.arg("mine") != "true":
            return api_error(
                400,
                "missingRequiredParameter",
                "No filter selected. Expected one of: mine, broadcastStatus, id",
            )
        return self._list("liveBroadcast", mine, parts)

    def _own_broadcast(self, caller: GoogleUser, broadcast_id: str | None) -> dict[str, Any] | Reply:
        broadcast = self.broadcasts.get(broadcast_id or "")
        if broadcast is None or broadcast["snippet"]["channelId"] != caller.channel_id:
            return api_error(
                404, "liveBroadcastNotFound", "Broadcast not found", domain="youtube.liveBroadcast"
            )
        return broadcast

    @route("POST", r"/youtube/v3/liveBroadcasts/bind")
    def bind(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["bind"])
        if isinstance(begun, Reply):
            return begun
        caller, parts = begun
        with self.lock:
            broadcast = self._own_broadcast(caller, request.arg("id"))
            if isinstance(broadcast, Reply):
                return broadcast
            if broadcast["status"]["lifeCycleStatus"] not in ("created", "ready"):
                return api_error(
                    403,
                    "liveBroadcastBindingNotAllowed",
                    "The current status of the live broadcast does not allow it to be bound to a stream.",
                    domain="youtube.liveBroadcast",
                )
            stream_id = request.arg("streamId")
            details = broadcast["contentDetails"]
            if stream_id:
                stream = self.streams.get(stream_id)
                if stream is None or stream["snippet"]["channelId"] != caller.channel_id:
                    return api_error(
                        404, "liveStreamNotFound", "Stream not found", domain="youtube.liveBroadcast"
                    )
                details["boundStreamId"] = stream_id
                details["boundStreamLastUpdateTimeMs"] = now_rfc3339()
                broadcast["status"]["lifeCycleStatus"] = "ready"
            else:  # bind without streamId unbinds
                details.pop("boundStreamId", None)
                broadcast["status"]["lifeCycleStatus"] = "created"
        return Reply(200, self._render("liveBroadcast", broadcast, parts))

    @route("POST", r"/youtube/v3/liveBroadcasts/transition")
    def transition(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["transition"])
        if isinstance(begun, Reply):
            return begun
        caller, parts = begun
        target = request.arg("broadcastStatus")
        if target not in ("testing", "live", "complete"):
            return api_error(400, "invalidValue", f"Invalid value for broadcastStatus: {target}")
        with self.lock:
            broadcast = self._own_broadcast(caller, request.arg("id"))
            if isinstance(broadcast, Reply):
                return broadcast
            refusal = self._refuse_transition(broadcast, target)
            if refusal is not None:
                return refusal
            self._enter(broadcast, target)
        return Reply(200, self._render("liveBroadcast", broadcast, parts))

    def _refuse_transition(self, broadcast: dict[str, Any], target: str) -> Reply | None:
        state = broadcast["status"]["lifeCycleStatus"]
        details = broadcast["contentDetails"]
        monitored = details["monitorStream"]["enableMonitorStream"]
        if state == target:
            return api_error(
                403, "redundantTransition", "Redundant transition", domain="youtube.liveBroadcast"
            )
        allowed = {
            "testing": state == "ready" and monitored,
            # With the monitor stream on, YouTube wants testing first.
            "live": state == "testing" or (state == "ready" and not monitored),
            "complete": state in ("testing", "live"),
        }[target]
        if not allowed:
            return api_error(403, "invalidTransition", "Invalid transition", domain="youtube.liveBroadcast")
        stream = self.streams.get(details.get("boundStreamId", ""))
        if target != "complete" and (stream is None or stream["status"]["streamStatus"] != "active"):
            return api_error(403, "errorStreamInactive", "Stream is inactive", domain="youtube.liveBroadcast")
        return None

    @staticmethod
    def _enter(broadcast: dict[str, Any], state: str) -> None:
        broadcast["status"]["lifeCycleStatus"] = state
        if state == "live":
            broadcast["snippet"]["actualStartTime"] = now_rfc3339()
            broadcast["status"]["recordingStatus"] = "recording"
        elif state == "complete":
            broadcast["snippet"]["actualEndTime"] = now_rfc3339()
            broadcast["status"]["recordingStatus"] = "recorded"

    @route("DELETE", r"/youtube/v3/(liveBroadcasts|liveStreams)")
    def delete(self, request: Request) -> Reply:
        caller = self._caller(request, QUOTA_COST["delete"])
        if isinstance(caller, Reply):
            return caller
        assert request.match is not None
        table = self.broadcasts if request.match.group(1) == "liveBroadcasts" else self.streams
        with self.lock:
            found = table.get(request.arg("id") or "")
            if found is None or found["snippet"]["channelId"] != caller.channel_id:
                kind = "liveBroadcast" if table is self.broadcasts else "liveStream"
                return api_error(404, f"{kind}NotFound", "Not found", domain=f"youtube.{kind}")
            del table[found["id"]]
        return Reply(204)

    @route("GET", r"/youtube/v3/videos")
    def list_videos(self, request: Request) -> Reply:
        begun = self._begin(request, QUOTA_COST["list"], write=False)
        if isinstance(begun, Reply):
            return begun
        _caller, parts = begun
        items = []
        for video_id in (request.arg("id") or "").split(","):
            broadcast = self.broadcasts.get(video_id)
            if broadcast is None:
                continue
            state, snippet = broadcast["status"]["lifeCycleStatus"], broadcast["snippet"]
            details: dict[str, Any] = {"scheduledStartTime": snippet["scheduledStartTime"]}
            for field_name in ("actualStartTime", "actualEndTime"):
                if field_name in snippet:
                    details[field_name] = snippet[field_name]
            if state == "live" and video_id in self.viewers:
                details["concurrentViewers"] = str(self.viewers[video_id])  # a string, as YouTube sends it
            if state != "complete":
                details["activeLiveChatId"] = snippet["liveChatId"]
            content = {"live": "live", "complete": "none"}.get(state, "upcoming")
            video = {
                "id": video_id,
                "snippet": {
                    "channelId": snippet["channelId"],
                    "title": snippet["title"],
                    "liveBroadcastContent": content,
                },
                "liveStreamingDetails": details,
            }
            items.append(video)
        return self._list("video", items, parts)
