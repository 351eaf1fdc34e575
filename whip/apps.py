from __future__ import annotations

import urllib.parse
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def whip_settings_errors(**_: Any) -> list[checks.CheckMessage]:
    """A misconfigured WHIP endpoint fails loudly at start-up, not in a creator's browser."""
    errors: list[checks.CheckMessage] = []
    url = urllib.parse.urlsplit(settings.WHIP_PUBLIC_URL)
    if url.scheme not in ("http", "https") or not url.netloc:
        errors.append(checks.Error("WHIP_PUBLIC_URL must be an http(s) URL.", id="whip.E001"))
    if not 0 < settings.WHIP_TOKEN_SECONDS <= 3600:
        errors.append(
            checks.Error(
                "WHIP_TOKEN_SECONDS must be between 1 and 3600: studio tokens are short-lived.",
                id="whip.E002",
            )
        )
    for origin in settings.WHIP_ALLOWED_ORIGINS:
        parts = urllib.parse.urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            errors.append(
                checks.Error(
                    f"WHIP_ALLOWED_ORIGINS holds {origin!r}, which is not an origin (scheme://host[:port]).",
                    id="whip.E003",
                )
            )
    return errors


class WhipConfig(AppConfig):
    """WHIP (RFC 9725) ingest: browsers and OBS publish over WebRTC; we publish RTMP into the ingest."""

    name = "whip"
    verbose_name = "WHIP ingest"

    def ready(self) -> None:
        checks.register(whip_settings_errors)
