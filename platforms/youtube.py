"""YouTube Data API v3 (and Google's OAuth token endpoint): the calls streaming needs, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from platforms.errors import PlatformError, Unauthorized
from platforms.http import TokenGrant, app_credentials, call, json_body

SERVICE = "YouTube"
NOT_ENABLED = "Enable live streaming on your YouTube channel, then reconnect."
QUOTA = "YouTube's daily API quota for Prism is used up; try again tomorrow."


@dataclass(frozen=True)
class Ingest:
    stream_id: str
    server: str
    key: str


def _check(response: requests.Response) -> dict[str, Any]:
    body = json_body(response)
    if response.ok:
        return body
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    reasons = {item.get("reason") for item in error.get("errors", []) if isinstance(item, dict)}
    if response.status_code == 401:
        raise Unauthorized(SERVICE)
    if "liveStreamingNotEnabled" in reasons:
        raise PlatformError(NOT_ENABLED)
    if reasons & {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"}:
        raise PlatformError(QUOTA)
    if "insufficientPermissions" in reasons:
        raise PlatformError(
            "Prism may not manage your YouTube live streams: reconnect it.", needs_reconnect=True
        )
    raise PlatformError(f"YouTube refused the request (HTTP {response.status_code}).")


def _api(method: str, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
    url = settings.YOUTUBE_API_BASE + path
    return _check(call(method, url, service=SERVICE, headers={"Authorization": f"Bearer {token}"}, **kwargs))


def refresh(refresh_token: str) -> TokenGrant:
    """A new access token; Google keeps the refresh token (the grant may say nothing of it)."""
    response = call(
        "POST",
        settings.GOOGLE_OAUTH_BASE + "/token",
        service=SERVICE,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            **app_credentials("google"),
        },
    )
    if not response.ok:
        raise PlatformError("YouTube refused to renew Prism's access: reconnect it.", needs_reconnect=True)
    return TokenGrant.from_json(json_body(response))


def revoke(token: str) -> None:
    call("POST", settings.GOOGLE_OAUTH_BASE + "/revoke", service=SERVICE, data={"token": token})


def create_stream(token: str, title: str = "Prism") -> Ingest:
    """A reusable liveStream: Prism pushes every session to its ingestion address."""
    body = _api(
        "POST",
        "/liveStreams",
        token,
        params={"part": "snippet,cdn,contentDetails,status"},
        json={
            "snippet": {"title": title},
            "cdn": {"ingestionType": "rtmp", "resolution": "variable", "frameRate": "variable"},
            "contentDetails": {"isReusable": True},
        },
    )
    info = body.get("cdn", {}).get("ingestionInfo", {})
    if not info.get("ingestionAddress") or not info.get("streamName"):
        raise PlatformError("YouTube created a stream without an ingestion address; try again.")
    return Ingest(str(body["id"]), str(info["ingestionAddress"]), str(info["streamName"]))


def start_broadcast(token: str, stream_id: str, title: str) -> str:
    """A liveBroadcast with ``title``, bound to ``stream_id``, starting when video arrives; its id."""
    broadcast = _api(
        "POST",
        "/liveBroadcasts",
        token,
        params={"part": "snippet,status,contentDetails"},
        json={
            "snippet": {
                "title": title[:100] or "Live on Prism",
                "scheduledStartTime": (timezone.now() + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False},
            "contentDetails": {"enableAutoStart": True, "enableAutoStop": True},
        },
    )
    broadcast_id = str(broadcast["id"])
    _api(
        "POST",
        "/liveBroadcasts/bind",
        token,
        params={"id": broadcast_id, "streamId": stream_id, "part": "id"},
    )
    return broadcast_id


def end_broadcast(token: str, broadcast_id: str) -> None:
    """Complete a live broadcast; one that never went live is deleted instead."""
    try:
        _api(
            "POST",
            "/liveBroadcasts/transition",
            token,
            params={"id": broadcast_id, "broadcastStatus": "complete", "part": "status"},
        )
    except Unauthorized:
        raise
    except PlatformError:
        _api("DELETE", "/liveBroadcasts", token, params={"id": broadcast_id})


def viewers(token: str, broadcast_id: str) -> int | None:
    body = _api("GET", "/videos", token, params={"part": "liveStreamingDetails", "id": broadcast_id})
    for item in body.get("items", []):
        count = item.get("liveStreamingDetails", {}).get("concurrentViewers")
        if count is not None:
            return int(count)
    return None
