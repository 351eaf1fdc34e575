"""The one way our platform seams speak HTTP: a timeout on every call, transport errors as PlatformError.

Nothing here logs a URL, a header or a body: they carry tokens and stream keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from platforms.errors import PlatformError

_session = requests.Session()


@dataclass(frozen=True)
class TokenGrant:
    """What an OAuth token endpoint answered. ``refresh_token`` is empty when none was (re)issued."""

    access_token: str
    refresh_token: str = ""
    expires_in: int | None = None

    @property
    def expires_at(self) -> datetime | None:
        return timezone.now() + timedelta(seconds=self.expires_in) if self.expires_in else None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TokenGrant:
        expires = body.get("expires_in")
        return cls(
            str(body["access_token"]), str(body.get("refresh_token") or ""), int(expires) if expires else None
        )


def call(method: str, url: str, *, service: str, **kwargs: Any) -> requests.Response:
    """One request with the configured timeout. Network failures become PlatformError (no URL in it)."""
    try:
        return _session.request(method, url, timeout=settings.PLATFORM_HTTP_TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        # requests puts the full URL (with any token in its query) into its messages: never chain it.
        raise PlatformError(
            f"{service} could not be reached ({type(exc).__name__}); try again in a moment."
        ) from None


def json_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def app_credentials(provider_id: str) -> dict[str, str]:
    """client_id and client_secret of our OAuth app at ``provider_id``, as allauth is configured."""
    apps = settings.SOCIALACCOUNT_PROVIDERS.get(provider_id, {}).get("APPS") or [{}]
    return {"client_id": apps[0].get("client_id", ""), "client_secret": apps[0].get("secret", "")}
