"""Twitch: id.twitch.tv tokens, Helix (stream key, viewers) and the documented RTMP ingest list."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from platforms.errors import PlatformError, Unauthorized
from platforms.http import TokenGrant, app_credentials, call, json_body

SERVICE = "Twitch"
DEFAULT_INGEST = "rtmp://live.twitch.tv/app"


def _helix(path: str, token: str, params: dict[str, str]) -> dict[str, Any]:
    response = call(
        "GET",
        settings.TWITCH_API_BASE + path,
        service=SERVICE,
        params=params,
        headers={"Authorization": f"Bearer {token}", "Client-Id": app_credentials("twitch")["client_id"]},
    )
    if response.status_code == 401:
        raise Unauthorized(SERVICE)
    if response.status_code == 403:
        raise PlatformError("Prism may not read your Twitch stream key: reconnect it.", needs_reconnect=True)
    if not response.ok:
        raise PlatformError(f"Twitch refused the request (HTTP {response.status_code}).")
    return json_body(response)


def refresh(refresh_token: str) -> TokenGrant:
    """A new access token, and the refresh token to keep (Twitch may rotate it)."""
    response = call(
        "POST",
        settings.TWITCH_ID_BASE + "/oauth2/token",
        service=SERVICE,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, **app_credentials("twitch")},
    )
    if not response.ok:
        raise PlatformError("Twitch refused to renew Prism's access: reconnect it.", needs_reconnect=True)
    return TokenGrant.from_json(json_body(response))


def revoke(token: str) -> None:
    call(
        "POST",
        settings.TWITCH_ID_BASE + "/oauth2/revoke",
        service=SERVICE,
        data={"client_id": app_credentials("twitch")["client_id"], "token": token},
    )


def stream_key(token: str, broadcaster_id: str) -> str:
    data = _helix("/streams/key", token, {"broadcaster_id": broadcaster_id}).get("data") or [{}]
    key = data[0].get("stream_key")
    if not key:
        raise PlatformError("Twitch did not give Prism your stream key; try reconnecting.")
    return str(key)


def ingest_server() -> str:
    """The RTMP server Twitch lists first (``url_template`` without ``/{stream_key}``)."""
    try:
        response = call("GET", settings.TWITCH_INGEST_URL, service=SERVICE)
    except PlatformError:
        return DEFAULT_INGEST
    if not response.ok:
        return DEFAULT_INGEST
    for ingest in json_body(response).get("ingests", []):
        template = str(ingest.get("url_template", ""))
        if template.startswith("rtmp://") and template.endswith("/{stream_key}"):
            return template.removesuffix("/{stream_key}")
    return DEFAULT_INGEST


def viewers(token: str, user_id: str) -> int | None:
    """Viewers of the live stream of ``user_id``; None when the channel is offline."""
    for stream in _helix("/streams", token, {"user_id": user_id}).get("data", []):
        if str(stream.get("user_id")) == user_id:
            return int(stream.get("viewer_count", 0))
    return None
