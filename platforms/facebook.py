"""Facebook Graph API: the long-lived token exchange, live videos (RTMPS only) and their live views.

Facebook issues no refresh token: a token it refuses (code 190) means the creator reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from platforms.errors import PlatformError, Unauthorized
from platforms.http import TokenGrant, app_credentials, call, json_body

SERVICE = "Facebook"


@dataclass(frozen=True)
class LiveVideo:
    video_id: str
    url: str = ""  # rtmps://…:443/rtmp/<key>: a secret


def _check(response: requests.Response) -> dict[str, Any]:
    body = json_body(response)
    if response.ok:
        return body
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    if error.get("code") == 190 or response.status_code == 401:
        raise Unauthorized(SERVICE)
    if error.get("code") in (10, 200) or str(error.get("code", "")).startswith("2"):
        raise PlatformError(
            "Facebook did not allow Prism to go live for you: check the permissions and reconnect."
        )
    raise PlatformError(f"Facebook refused the request (HTTP {response.status_code}).")


def auth_header(token: str) -> dict[str, str]:
    """Graph takes the token in a header; a header, unlike a query string, is in no URL that an
    exception, a proxy or a log line could quote."""
    return {"Authorization": f"OAuth {token}"}


def _graph(method: str, path: str, token: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    secret = app_credentials("facebook")["client_secret"]
    proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    merged = {**(params or {}), "appsecret_proof": proof}
    kwargs: dict[str, Any] = {"params": merged} if method == "GET" else {"data": merged}
    return _check(
        call(
            method, settings.FACEBOOK_GRAPH_BASE + path, service=SERVICE, headers=auth_header(token), **kwargs
        )
    )


def exchange_long_lived(short_token: str) -> TokenGrant:
    """Swap the short-lived token from the login dialog for a ~60-day one."""
    response = call(
        "GET",
        settings.FACEBOOK_GRAPH_BASE + "/oauth/access_token",
        service=SERVICE,
        params={
            "grant_type": "fb_exchange_token",
            "fb_exchange_token": short_token,
            **app_credentials("facebook"),
        },
    )
    if not response.ok:
        raise PlatformError("Facebook refused a lasting token for Prism: reconnect it.", needs_reconnect=True)
    return TokenGrant.from_json(json_body(response))


def create_live_video(token: str, owner_id: str, title: str) -> LiveVideo:
    """A live video going live as soon as video arrives, and its RTMPS (port 443) URL."""
    body = _graph("POST", f"/{owner_id}/live_videos", token, {"status": "LIVE_NOW", "title": title[:255]})
    url = str(body.get("secure_stream_url") or "")
    if not url.startswith("rtmps://"):
        raise PlatformError("Facebook gave no secure (RTMPS) address for the live video; try again.")
    return LiveVideo(str(body["id"]), url)


def end_live_video(token: str, video_id: str) -> None:
    _graph("POST", f"/{video_id}", token, {"end_live_video": "true"})


def revoke(token: str, account_id: str = "") -> None:
    """End the user's grant to our app (DELETE /{user-id}/permissions), so the token is dead at once."""
    secret = app_credentials("facebook")["client_secret"]
    proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    _check(
        call(
            "DELETE",
            f"{settings.FACEBOOK_GRAPH_BASE}/{account_id or 'me'}/permissions",
            service=SERVICE,
            headers=auth_header(token),
            params={"appsecret_proof": proof},
        )
    )


def live_views(token: str, video_id: str) -> int | None:
    body = _graph("GET", f"/{video_id}", token, {"fields": "live_views,status"})
    views = body.get("live_views")
    return int(views) if views is not None and body.get("status") == "LIVE" else None
