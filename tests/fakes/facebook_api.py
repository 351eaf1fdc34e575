"""FakeFacebook: Facebook Login and the Graph API calls Prism makes, on one loopback server.

Every path takes an optional version prefix (``/v19.0/...``, what allauth 65 sends by default):

    login dialog  GET  /dialog/oauth                 (www.facebook.com)
    tokens        GET  /oauth/access_token           code, fb_exchange_token, client_credentials
                  GET  /debug_token                  (allauth's JS-SDK login checks tokens here)
    Graph         GET  /me, /me/permissions, /{id}   POST /{user-id|me}/live_videos
                  DELETE /{user-id|me}/permissions  (revokes the grant)
                  POST /{live-video-id}  (end_live_video=true, title, description)   DELETE /{live-video-id}

Errors are Graph's envelope ``{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}``
with HTTP 400. Tokens arrive as ``access_token`` (query or form) or ``Authorization: Bearer|OAuth``;
an ``appsecret_proof``, when sent, is checked (and demanded when ``require_appsecret_proof`` is on).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.http_server import FakeService, Reply, Request, route
from tests.fakes.platform_apis import AccessToken, GrantStore, OAuthClient, redirect_to

APP_ID = "100000000000001"
APP_SECRET = "fake-facebook-app-secret"
V = r"(?:/v\d+\.\d+)?"  # optional Graph API version prefix
USER_FIELDS = {
    "id",
    "name",
    "email",
    "first_name",
    "last_name",
    "middle_name",
    "short_name",
    "name_format",
    "picture",
    "verified",
    "locale",
    "timezone",
    "link",
    "gender",
    "updated_time",
    "birthday",
}
VIDEO_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "live_views",
    "stream_url",
    "secure_stream_url",
    "permalink_url",
    "creation_time",
    "broadcast_start_time",
    "ingest_streams",
    "embed_html",
}


@dataclass
class FacebookUser:
    id: str
    name: str
    first_name: str
    last_name: str
    email: str


@dataclass
class LiveVideo:
    id: str
    owner_id: str
    title: str
    description: str
    stream_key: str
    status: str = "UNPUBLISHED"  # LIVE once video arrives (start_receiving), VOD once ended
    live_views: int = 0
    creation_time: str = ""
    broadcast_start_time: str = ""


def graph_error(message: str, code: int, kind: str = "OAuthException", subcode: int | None = None) -> Reply:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    headers = (
        {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'} if code == 190 else {}
    )
    return Reply(400, {"error": error}, headers)


def appsecret_proof(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())


class FakeFacebook(FakeService):
    """Facebook in memory. Public attributes and the methods under "test controls" are for tests."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Forget all state (users, tokens, objects, controls, requests seen); the server keeps running."""
        with self.lock:
            self.requests.clear()
        self.grants = GrantStore()
        self.clients: dict[str, OAuthClient] = {APP_ID: OAuthClient(APP_ID, APP_SECRET)}
        self.user = FacebookUser(
            id="10160000000000001",
            name="Sam Streamer",
            first_name="Sam",
            last_name="Streamer",
            email="streamer@example.com",
        )
        self.users: dict[str, FacebookUser] = {self.user.id: self.user}
        self.deny_consent = False
        self.require_appsecret_proof = False
        self.live_permission: str | None = "publish_video"  # what POST /{user}/live_videos demands
        self.short_lived_ttl = 7_200
        self.long_lived_ttl = 5_184_000  # 60 days
        self.stream_url_base = "rtmps://live-api-s.facebook.com:443/rtmp/"
        self.secure_stream_url_base = "rtmps://live-api-s.facebook.com:443/rtmp/"
        self.live_videos: dict[str, LiveVideo] = {}
        self.fail_me_with: int | None = None  # test control: GET /me answers this HTTP status

    # -- URLs ------------------------------------------------------------------------------------------

    @property
    def dialog_url(self) -> str:
        return self.url + "/v19.0/dialog/oauth"

    @property
    def graph_url(self) -> str:
        return self.url + "/v19.0"

    # -- test controls ---------------------------------------------------------------------------------

    def add_user(self, **fields: Any) -> FacebookUser:
        n = len(self.users) + 1
        defaults = dict(
            id=f"1016{n:013d}",
            name=f"User {n}",
            first_name="User",
            last_name=str(n),
            email=f"user{n}@example.com",
        )
        user = FacebookUser(**{**defaults, **fields})
        self.users[user.id] = self.user = user
        return user

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()
    ) -> None:
        self.clients[client_id] = OAuthClient(client_id, client_secret, redirect_uris)

    def expire_access_token(self, token: str | None = None) -> None:
        self.grants.expire_access(token)

    def revoke_access_token(self, token: str | None = None) -> None:
        """As if the user removed the app: the token answers code 190, subcode 458."""
        self.grants.revoke_access(token)

    def start_receiving(self, video_id: str, live_views: int = 0) -> None:
        """Stand-in for video reaching the ingest: the live video's status becomes LIVE."""
        video = self.live_videos[video_id]
        video.status, video.live_views = "LIVE", live_views
        video.broadcast_start_time = video.broadcast_start_time or _now()

    def set_live_views(self, video_id: str, live_views: int) -> None:
        self.live_videos[video_id].live_views = live_views

    # -- Facebook Login --------------------------------------------------------------------------------

    @route("GET", V + r"/dialog/oauth")
    def dialog(self, request: Request) -> Reply:
        client = self.clients.get(request.arg("client_id") or "")
        redirect_uri = request.arg("redirect_uri")
        if client is None:
            return graph_error("Invalid App ID", 101)
        if not client.allows(redirect_uri):
            return graph_error(
                "URL blocked: This redirect failed because the redirect URI is not allowed.", 191
            )
        assert redirect_uri is not None
        state = request.arg("state")
        if request.arg("response_type", "code") != "code":
            return graph_error("The fake only does response_type=code", 100)
        if not state:  # optional at Facebook; the fake insists, to catch a login without CSRF protection
            return graph_error("The fake requires a state parameter", 100)
        if self.deny_consent:
            return redirect_to(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_code": "200",
                    "error_description": "Permissions error",
                    "error_reason": "user_denied",
                    "state": state,
                },
                fragment="_=_",
            )
        scopes = tuple(s for s in (request.arg("scope") or "").replace(" ", ",").split(",") if s)
        code = self.grants.issue_code(
            self.user.id, client.client_id, redirect_uri, ("public_profile", *scopes)
        )
        return redirect_to(redirect_uri, {"code": code.code, "state": state}, fragment="_=_")

    @route("GET", V + r"/oauth/access_token")
    def access_token(self, request: Request) -> Reply:
        client = self.clients.get(request.arg("client_id") or "")
        if client is None:
            return graph_error("Error validating application. Invalid application ID.", 101)
        if client.client_secret != request.arg("client_secret"):
            return graph_error("Error validating client secret.", 1)
        grant_type = request.arg("grant_type")
        if grant_type == "fb_exchange_token":
            short = self.grants.valid_access(request.arg("fb_exchange_token"))
            if short is None or short.client_id != client.client_id or short.user_id is None:
                return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
            long = self.grants.issue_access(
                short.user_id, client.client_id, short.scopes, self.long_lived_ttl, "EAA"
            )
            return Reply(
                200, {"access_token": long.token, "token_type": "bearer", "expires_in": long.expires_in}
            )
        if grant_type == "client_credentials":
            return Reply(
                200, {"access_token": f"{client.client_id}|{client.client_secret}", "token_type": "bearer"}
            )
        code = self.grants.redeem_code(request.arg("code"))
        if code is None or code.client_id != client.client_id:
            return graph_error("This authorization code has been used.", 100, subcode=36009)
        if request.arg("redirect_uri") != code.redirect_uri:
            return graph_error(
                "Error validating verification code. Please make sure your redirect_uri is identical to the "
                "one you used in the OAuth dialog request",
                100,
                subcode=36008,
            )
        access = self.grants.issue_access(
            code.user_id, client.client_id, code.scopes, self.short_lived_ttl, "EAA"
        )
        return Reply(
            200, {"access_token": access.token, "token_type": "bearer", "expires_in": access.expires_in}
        )

    @route("GET", V + r"/debug_token")
    def debug_token(self, request: Request) -> Reply:
        app_token = request.arg("access_token") or ""
        client = self.clients.get(app_token.partition("|")[0])
        if client is None or app_token != f"{client.client_id}|{client.client_secret}":
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        grant = self.grants.access.get(request.arg("input_token") or "")
        if grant is None:
            return Reply(
                200, {"data": {"is_valid": False, "error": {"code": 190, "message": "Invalid token"}}}
            )
        return Reply(
            200,
            {
                "data": {
                    "app_id": grant.client_id,
                    "type": "USER",
                    "application": "Prism",
                    "data_access_expires_at": int(grant.expires_at) + 7_776_000,
                    "expires_at": int(grant.expires_at),
                    "is_valid": grant.usable,
                    "scopes": list(grant.scopes),
                    "user_id": grant.user_id,
                }
            },
        )

    # -- Graph API -------------------------------------------------------------------------------------

    def _caller(self, request: Request) -> AccessToken | Reply:
        token = request.arg("access_token")
        if token is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            token = value.strip() if scheme.lower() in ("bearer", "oauth") else None
        if not token:
            return graph_error(
                "An active access token must be used to query information about the current user.", 2500
            )
        grant = self.grants.access.get(token)
        if grant is None:
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        if grant.revoked:
            return graph_error(
                f"Error validating access token: The user has not authorized application {grant.client_id}.",
                190,
                subcode=458,
            )
        if not grant.usable:
            return graph_error(
                "Error validating access token: Session has expired on "
                f"{time.strftime('%A, %d-%b-%y %H:%M:%S', time.gmtime(grant.expires_at))} PST.",
                190,
                subcode=463,
            )
        proof = request.arg("appsecret_proof")
        secret = self.clients[grant.client_id].client_secret
        if proof is not None and not hmac.compare_digest(proof, appsecret_proof(secret, token)):
            return graph_error(
                "Invalid appsecret_proof provided in the API argument", 100, "GraphMethodException"
            )
        if proof is None and self.require_appsecret_proof:
            return graph_error(
                "API calls from the server require an appsecret_proof argument", 100, "GraphMethodException"
            )
        return grant

    @staticmethod
    def _fields(request: Request, known: set[str], default: list[str], node: str) -> list[str] | Reply:
        fields = [f for f in (request.arg("fields") or "").split(",") if f] or default
        unknown = [f for f in fields if f not in known]
        if unknown:
            return graph_error(
                f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type ({node})", 100
            )
        return fields

    @staticmethod
    def _no_such_object(object_id: str) -> Reply:
        return graph_error(
            f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation.",
            100,
            "GraphMethodException",
            33,
        )

    @route("GET", V + r"/(me|\d+)")
    def node(self, request: Request) -> Reply:
        if self.fail_me_with is not None and request.match is not None and request.match.group(1) == "me":
            return Reply(self.fail_me_with, {"error": {"message": "Internal error", "code": 1}})
        grant = self._caller(request)
        if isinstance(grant, Reply):
            return grant
        assert request.match is not None
        assert grant.user_id is not None
        node_id = grant.user_id if request.match.group(1) == "me" else request.match.group(1)
        if node_id == grant.user_id:
            return self._user_json(request, self.users[node_id], grant)
        video = self.live_videos.get(node_id)
        if video is None or video.owner_id != grant.user_id:
            return self._no_such_object(node_id)
        fields = self._fields(request, VIDEO_FIELDS, ["id", "status", "title", "description"], "LiveVideo")
        if isinstance(fields, Reply):
            return fields
        values = self._video_json(video)
        return Reply(200, {"id": video.id, **{f: values[f] for f in fields if f in values}})

    def _user_json(self, request: Request, user: FacebookUser, grant: AccessToken) -> Reply:
        fields = self._fields(request, USER_FIELDS, ["id", "name"], "User")
        if isinstance(fields, Reply):
            return fields
        values: dict[str, Any] = {
            "id": user.id,
            "name": user.name,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "short_name": user.first_name,
            "name_format": "{first} {last}",
            "picture": {
                "data": {
                    "height": 50,
                    "width": 50,
                    "is_silhouette": True,
                    "url": "https://platform-lookaside.fbsbx.com/platform/profilepic/",
                }
            },
        }
        if "email" in grant.scopes:
            values["email"] = user.email
        # Fields a permission guards (link, gender, birthday ...) are left out, as Graph does without it.
        return Reply(200, {f: values[f] for f in ["id", *fields] if f in values})

    @route("GET", V + r"/me/permissions")
    def permissions(self, request: Request) -> Reply:
        grant = self._caller(request)
        if isinstance(grant, Reply):
            return grant
        return Reply(200, {"data": [{"permission": p, "status": "granted"} for p in grant.scopes]})

    @route("DELETE", V + r"/(me|\d+)/permissions")
    def revoke_permissions(self, request: Request) -> Reply:
        """The user's grant to the app ends: every token of it answers code 190 from now on."""
        grant = self._caller(request)
        if isinstance(grant, Reply):
            return grant
        assert request.match is not None
        if request.match.group(1) not in ("me", grant.user_id):
            return self._no_such_object(request.match.group(1))
        with self.grants.lock:
            for other in self.grants.access.values():
                if other.user_id == grant.user_id and other.client_id == grant.client_id:
                    other.revoked = True
        return Reply(200, {"success": True})

    @route("POST", V + r"/(me|\d+)/live_videos")
    def create_live_video(self, request: Request) -> Reply:
        grant = self._caller(request)
        if isinstance(grant, Reply):
            return grant
        assert request.match is not None
        assert grant.user_id is not None
        target = grant.user_id if request.match.group(1) == "me" else request.match.group(1)
        if target != grant.user_id:
            return self._no_such_object(target)  # Pages (with Page tokens) are not faked
        if self.live_permission and self.live_permission not in grant.scopes:
            return graph_error("(#200) Permissions error", 200)
        status = request.arg("status", "UNPUBLISHED")
        if status not in ("LIVE_NOW", "UNPUBLISHED", "SCHEDULED_UNPUBLISHED"):
            return graph_error(
                f"(#100) Param status must be one of {{LIVE_NOW, UNPUBLISHED}}, got {status}", 100
            )
        video_id = str(1_000_000_000_000_000 + secrets.randbelow(10**15))
        video = LiveVideo(
            id=video_id,
            owner_id=target,
            title=request.arg("title", "") or "",
            description=request.arg("description", "") or "",
            stream_key=f"FB-{video_id}-0-{secrets.token_urlsafe(24)}",
            creation_time=_now(),
        )
        self.live_videos[video_id] = video
        values = self._video_json(video)
        return Reply(200, {k: values[k] for k in ("id", "stream_url", "secure_stream_url")})

    @route("POST", V + r"/(\d+)")
    def update_live_video(self, request: Request) -> Reply:
        grant = self._caller(request)
        if isinstance(grant, Reply):
            return grant
        assert request.match is not None
        video = self.live_videos.get(request.match.group(1))
        if video is None or video.owner_id != grant.user_id:
            return self._no_such_object(request.match.group(1))
        if request.arg("end_live_video") == "true":
            video.status, video.live_views = "VOD", 0
        video.title = request.arg("title", video.title) or ""
        video.description = request.arg("description", video.description) or ""
        return Reply(200, {"id": video.id})

    @route("DELETE", V + r"/(\d+)")
    def delete_live_video(self, request: Request) -> Reply:
        grant = self._caller(request)
        if isinstance(grant, Reply):
            return grant
        assert request.match is not None
        video = self.live_videos.get(request.match.group(1))
        if video is None or video.owner_id != grant.user_id:
            return self._no_such_object(request.match.group(1))
        del self.live_videos[video.id]
        return Reply(200, {"success": True})

    def _video_json(self, video: LiveVideo) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": video.id,
            "title": video.title,
            "description": video.description,
            "status": video.status,
            "live_views": video.live_views,
            "creation_time": video.creation_time,
            "permalink_url": f"/{video.owner_id}/videos/{video.id}/",
            "embed_html": f'<iframe src="https://www.facebook.com/plugins/video.php?href={video.id}"></iframe>',
        }
        if video.status != "VOD":
            values["stream_url"] = self.stream_url_base + video.stream_key
            values["secure_stream_url"] = self.secure_stream_url_base + video.stream_key
        if video.broadcast_start_time:
            values["broadcast_start_time"] = video.broadcast_start_time
        return values
