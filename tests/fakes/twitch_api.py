"""FakeTwitch: id.twitch.tv OAuth, the Helix calls Prism makes, and the ingest list, on one loopback server.

    id server   GET /oauth2/authorize, POST /oauth2/token, GET /oauth2/validate, POST /oauth2/revoke
    Helix       GET /helix/users, GET /helix/streams/key, GET /helix/streams, GET|PATCH /helix/channels
    ingests     GET /ingests                       (ingest.twitch.tv; no auth)

Errors use Twitch's envelopes: ``{"status": 400, "message": ...}`` from the id server and
``{"error": "Unauthorized", "status": 401, "message": ...}`` from Helix. Helix wants ``Client-Id``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_server import FakeService, Reply, Request, route
from tests.fakes.platform_apis import (
    AccessToken,
    GrantStore,
    OAuthClient,
    bearer_token,
    client_credentials,
    redirect_to,
)

CLIENT_ID = "fakeTwitchClientId0123456789ab"
CLIENT_SECRET = "fakeTwitchSecret0123456789abcd"
HTTP_REASON = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


@dataclass
class TwitchUser:
    id: str
    login: str
    display_name: str
    email: str
    stream_key: str = field(
        default_factory=lambda: f"live_{secrets.randbelow(10**9)}_{secrets.token_hex(15)}"
    )
    title: str = ""
    game_id: str = ""
    game_name: str = ""
    language: str = "en"
    live: bool = False
    viewers: int = 0
    started_at: str = ""
    created_at: str = "2019-11-18T00:47:34Z"


def id_error(status: int, message: str) -> Reply:
    return Reply(status, {"status": status, "message": message})


def helix_error(status: int, message: str) -> Reply:
    return Reply(status, {"error": HTTP_REASON.get(status, "Error"), "status": status, "message": message})


class FakeTwitch(FakeService):
    """Twitch in memory. Public attributes and the methods under "test controls" are for tests."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Forget all state (users, tokens, objects, controls, requests seen); the server keeps running."""
        with self.lock:
            self.requests.clear()
        self.grants = GrantStore()
        self.clients: dict[str, OAuthClient] = {CLIENT_ID: OAuthClient(CLIENT_ID, CLIENT_SECRET)}
        self.user = TwitchUser(
            id="141981764", login="samstreams", display_name="SamStreams", email="streamer@example.com"
        )
        self.users: dict[str, TwitchUser] = {self.user.id: self.user}
        self.deny_consent = False
        # Twitch may hand back a new refresh token on refresh; when on, the old one stops working.
        self.rotate_refresh_tokens = False
        self.access_token_ttl = 14_400
        self.ingest_host = "sfo.contribute.live-video.net"  # e.g. "127.0.0.1:1935" to aim at a local sink

    # -- URLs ------------------------------------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return self.url + "/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth2/token"

    @property
    def helix_url(self) -> str:
        return self.url + "/helix"

    @property
    def ingests_url(self) -> str:
        return self.url + "/ingests"

    # -- test controls ---------------------------------------------------------------------------------

    def add_user(self, **fields: Any) -> TwitchUser:
        """Add a user and make them the one who signs in on the next authorize request."""
        n = len(self.users) + 1
        defaults = dict(
            id=str(900000000 + n), login=f"user{n}", display_name=f"User{n}", email=f"user{n}@example.com"
        )
        user = TwitchUser(**{**defaults, **fields})
        self.users[user.id] = self.user = user
        return user

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()
    ) -> None:
        self.clients[client_id] = OAuthClient(client_id, client_secret, redirect_uris)

    def set_live(self, user: TwitchUser | None = None, viewers: int = 0) -> None:
        """The channel is live (as if video reached the ingest) with ``viewers`` watching."""
        user = user or self.user
        if not user.live:
            user.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        user.live, user.viewers = True, viewers

    def set_offline(self, user: TwitchUser | None = None) -> None:
        user = user or self.user
        user.live, user.viewers = False, 0

    def expire_access_token(self, token: str | None = None) -> None:
        self.grants.expire_access(token)

    def revoke_refresh_token(self, token: str | None = None) -> None:
        self.grants.revoke_refresh(token)

    # -- id.twitch.tv ----------------------------------------------------------------------------------

    @route("GET", r"/oauth2/authorize")
    def authorize(self, request: Request) -> Reply:
        client = self.clients.get(request.arg("client_id") or "")
        redirect_uri = request.arg("redirect_uri")
        if client is None:
            return id_error(400, "invalid client")
        if not client.allows(redirect_uri):
            return id_error(400, "Parameter redirect_uri does not match registered URI")
        assert redirect_uri is not None
        state = request.arg("state")
        if request.arg("response_type") != "code":
            return id_error(400, "unsupported response_type")
        if not state:  # optional at Twitch; the fake insists, to catch a login without CSRF protection
            return id_error(400, "The fake requires a state parameter")
        if self.deny_consent:
            return redirect_to(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user denied you access",
                    "state": state,
                },
            )
        scopes = tuple((request.arg("scope") or "").split())
        code = self.grants.issue_code(self.user.id, client.client_id, redirect_uri, scopes)
        return redirect_to(redirect_uri, {"code": code.code, "scope": " ".join(scopes), "state": state})

    @route("POST", r"/oauth2/token")
    def token(self, request: Request) -> Reply:
        client_id, secret = client_credentials(request)
        client = self.clients.get(client_id or "")
        if client is None:
            return id_error(400, "invalid client")
        if client.client_secret != secret:
            return id_error(403, "invalid client secret")
        grant_type = request.arg("grant_type")
        if grant_type == "authorization_code":
            code = self.grants.redeem_code(request.arg("code"))
            if code is None or code.client_id != client.client_id:
                return id_error(400, "Invalid authorization code")
            if request.arg("redirect_uri") != code.redirect_uri:
                return id_error(400, "Parameter redirect_uri does not match registered URI")
            refresh = self.grants.issue_refresh(code.user_id, client.client_id, code.scopes)
            return Reply(200, self._token_body(code.user_id, client.client_id, code.scopes, refresh.token))
        if grant_type == "refresh_token":
            refresh = self.grants.valid_refresh(request.arg("refresh_token"), client.client_id)
            if refresh is None:
                return id_error(400, "Invalid refresh token")
            if self.rotate_refresh_tokens:
                refresh.revoked = True
                refresh = self.grants.issue_refresh(refresh.user_id, client.client_id, refresh.scopes)
            return Reply(
                200, self._token_body(refresh.user_id, client.client_id, refresh.scopes, refresh.token)
            )
        if grant_type == "client_credentials":
            access = self.grants.issue_access(None, client.client_id, (), self.access_token_ttl)
            return Reply(
                200, {"access_token": access.token, "expires_in": access.expires_in, "token_type": "bearer"}
            )
        return id_error(400, "unsupported grant type")

    def _token_body(
        self, user_id: str, client_id: str, scopes: tuple[str, ...], refresh: str
    ) -> dict[str, Any]:
        access = self.grants.issue_access(user_id, client_id, scopes, self.access_token_ttl)
        return {
            "access_token": access.token,
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
            "scope": list(scopes),
            "token_type": "bearer",
        }

    @route("GET", r"/oauth2/validate")
    def validate(self, request: Request) -> Reply:
        access = self.grants.valid_access(bearer_token(request, ("oauth", "bearer")))
        if access is None:
            return id_error(401, "invalid access token")
        body: dict[str, Any] = {
            "client_id": access.client_id,
            "scopes": list(access.scopes),
            "expires_in": access.expires_in,
        }
        if access.user_id is not None:
            body.update(login=self.users[access.user_id].login, user_id=access.user_id)
        return Reply(200, body)

    @route("POST", r"/oauth2/revoke")
    def revoke(self, request: Request) -> Reply:
        token = request.arg("token") or ""
        access = self.grants.access.get(token)
        if access is None or access.client_id != request.arg("client_id"):
            return id_error(400, "Invalid token")
        access.revoked = True
        return Reply(200)

    # -- Helix -----------------------------------------------------------------------------------------

    def _helix_caller(self, request: Request, scope: str | None = None) -> AccessToken | Reply:
        token = bearer_token(request)
        if token is None:
            return helix_error(401, "OAuth token is missing")
        client_id = request.headers.get("client-id")
        if not client_id:
            return helix_error(401, "Client ID is missing")
        access = self.grants.valid_access(token)
        if access is None:
            return helix_error(401, "Invalid OAuth token")
        if access.client_id != client_id:
            return helix_error(401, "Client ID and OAuth token do not match")
        if scope is not None and scope not in access.scopes:
            return helix_error(401, f"Missing scope: {scope}")
        return access

    def _broadcaster(self, request: Request, access: AccessToken) -> TwitchUser | Reply:
        broadcaster_id = request.arg("broadcaster_id")
        if not broadcaster_id:
            return helix_error(400, 'Missing required parameter "broadcaster_id"')
        if broadcaster_id != access.user_id:
            return helix_error(
                401, "The ID in broadcaster_id must match the user ID found in the request's OAuth token."
            )
        return self.users[broadcaster_id]

    @route("GET", r"/helix/users")
    def users_endpoint(self, request: Request) -> Reply:
        access = self._helix_caller(request)
        if isinstance(access, Reply):
            return access
        ids, logins = request.query.get("id", []), request.query.get("login", [])
        if ids or logins:
            found = [u for u in self.users.values() if u.id in ids or u.login in logins]
        elif access.user_id is None:
            return helix_error(400, "Must provide an ID, Login or OAuth Token")
        else:
            found = [self.users[access.user_id]]
        return Reply(200, {"data": [self._user_json(u, access) for u in found]})

    @staticmethod
    def _user_json(user: TwitchUser, access: AccessToken) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": user.id,
            "login": user.login,
            "display_name": user.display_name,
            "type": "",
            "broadcaster_type": "",
            "description": "",
            "profile_image_url": f"https://static-cdn.jtvnw.net/jtv_user_pictures/{user.login}-profile_image.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": user.created_at,
        }
        if access.user_id == user.id and "user:read:email" in access.scopes:
            body["email"] = user.email
        return body

    @route("GET", r"/helix/streams/key")
    def stream_key(self, request: Request) -> Reply:
        access = self._helix_caller(request, "channel:read:stream_key")
        if isinstance(access, Reply):
            return access
        user = self._broadcaster(request, access)
        if isinstance(user, Reply):
            return user
        return Reply(200, {"data": [{"stream_key": user.stream_key}]})

    @route("GET", r"/helix/streams")
    def streams(self, request: Request) -> Reply:
        access = self._helix_caller(request)
        if isinstance(access, Reply):
            return access
        ids, logins = request.query.get("user_id", []), request.query.get("user_login", [])
        if len(ids) + len(logins) > 100:
            return helix_error(
                400, "The number of user_id and user_login query parameters must not exceed 100"
            )
        live = [
            u
            for u in self.users.values()
            if u.live and ((not ids and not logins) or u.id in ids or u.login in logins)
        ]
        data = [
            {
                "id": str(40000000000 + int(u.id) % 10**9),
                "user_id": u.id,
                "user_login": u.login,
                "user_name": u.display_name,
                "game_id": u.game_id,
                "game_name": u.game_name,
                "type": "live",
                "title": u.title,
                "tags": [],
                "viewer_count": u.viewers,
                "started_at": u.started_at,
                "language": u.language,
                "thumbnail_url": f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{u.login}-{{width}}x{{height}}.jpg",
                "tag_ids": [],
                "is_mature": False,
            }
            for u in live
        ]
        return Reply(200, {"data": data, "pagination": {}})

    @route("GET", r"/helix/channels")
    def get_channel(self, request: Request) -> Reply:
        access = self._helix_caller(request)
        if isinstance(access, Reply):
            return access
        data = [
            {
                "broadcaster_id": u.id,
                "broadcaster_login": u.login,
                "broadcaster_name": u.display_name,
                "broadcaster_language": u.language,
                "game_id": u.game_id,
                "game_name": u.game_name,
                "title": u.title,
                "delay": 0,
                "tags": [],
                "content_classification_labels": [],
                "is_branded_content": False,
            }
            for u in self.users.values()
            if u.id in request.query.get("broadcaster_id", [])
        ]
        return Reply(200, {"data": data})

    @route("PATCH", r"/helix/channels")
    def modify_channel(self, request: Request) -> Reply:
        access = self._helix_caller(request, "channel:manage:broadcast")
        if isinstance(access, Reply):
            return access
        user = self._broadcaster(request, access)
        if isinstance(user, Reply):
            return user
        try:
            body = request.json or {}
        except ValueError:
            return helix_error(400, "Malformed request body")
        if not body:
            return helix_error(400, "The request must update at least one field")
        if "title" in body:
            if not str(body["title"]).strip():
                return helix_error(400, "The title field may not contain an empty string")
            user.title = str(body["title"])
        if "game_id" in body:
            user.game_id = str(body["game_id"])
        return Reply(204)

    # -- ingest.twitch.tv ------------------------------------------------------------------------------

    @route("GET", r"/ingests")
    def ingests(self, request: Request) -> Reply:
        return Reply(
            200,
            {
                "ingests": [
                    {
                        "_id": 24,
                        "availability": 1.0,
                        "default": False,
                        "id": 24,
                        "name": "US West: San Francisco, CA",
                        "priority": 0,
                        "url_template": f"rtmp://{self.ingest_host}/app/{{stream_key}}",
                        "url_template_secure": f"rtmps://{self.ingest_host}/app/{{stream_key}}",
                    }
                ]
            },
        )
