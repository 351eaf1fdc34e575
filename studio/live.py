"""The browser studio's messages on the status socket (``ws/streams/``): ``go_live`` and ``audio_settings``.

Registered into streaming.consumers from StudioConfig.ready(), so the lower app never imports
this one. Each handler validates the whole message itself and answers with one reply: the
result, or ``{"type": "error", "message": ...}`` saying what to send instead.

``go_live`` does not start anything by itself: it stores the title and hands the page what it
needs to publish over WHIP (the node's endpoint and a short-lived token minted for this user).
The stream starts when the WHIP endpoint publishes into the node's ingest, through the same
on_publish callback as OBS, so plan limits, destinations and relays stay the engine's.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import User
from streaming.models import StreamSession
from studio.models import StudioSettings
from whip.registry import pick_endpoint
from whip.tokens import mint_studio_token

MAX_TITLE_CHARS = 200
SAMPLE_RATES = tuple(rate for rate, _ in StudioSettings.SAMPLE_RATE_CHOICES)


def error(message: str) -> dict[str, object]:
    return {"type": "error", "message": message}


def clean_title(value: object) -> str | None:
    """The title without surrounding space, or None when it is not a short line of printable text."""
    if not isinstance(value, str):
        return None
    title = value.strip()
    if len(title) > MAX_TITLE_CHARS or any(unicodedata.category(ch).startswith("C") for ch in title):
        return None
    return title


def start_browser_publish(user_id: int, title: str) -> dict[str, object]:
    if StreamSession.objects.filter(user_id=user_id, state__in=StreamSession.ACTIVE).exists():
        return error("You are already live. Stop the running stream first.")
    # A media node that announced its own WHIP URL (the freest), else this server's WHIP_PUBLIC_URL.
    url = pick_endpoint(settings.WHIP_PUBLIC_URL)
    if not url:
        return error("This server has no browser ingest (WHIP). Go live from OBS with the key below.")
    StudioSettings.set_next_title(user_id, title)
    token, expires_at = mint_studio_token(User.objects.get(pk=user_id))
    return {
        "type": "whip",
        "url": url,
        "token": token,
        "expires_at": expires_at.isoformat(),
    }


async def go_live(user_id: int, content: dict[str, Any]) -> dict[str, object]:
    title = clean_title(content.get("title")) if set(content) == {"type", "title"} else None
    if title is None:
        return error(
            f'Send {{"type": "go_live", "title": "<up to {MAX_TITLE_CHARS} printable characters>"}}.'
        )
    return await database_sync_to_async(start_browser_publish)(user_id, title)


def store_audio_settings(user_id: int, auto_gain_control: bool, sample_rate: int) -> dict[str, object]:
    StudioSettings.set_audio_settings(user_id, auto_gain_control, sample_rate)
    return {"type": "audio_settings", "constraints": StudioSettings.audio_settings_of(user_id)}


async def audio_settings(user_id: int, content: dict[str, Any]) -> dict[str, object]:
    """Property 5: only autoGainControl and the sample rate are the creator's to choose."""
    agc, rate = content.get("auto_gain_control"), content.get("sample_rate")
    valid = (
        set(content) == {"type", "auto_gain_control", "sample_rate"}
        and isinstance(agc, bool)
        and isinstance(rate, int)
        and not isinstance(rate, bool)
        and rate in SAMPLE_RATES
    )
    if not valid:
        rates = " or ".join(str(r) for r in SAMPLE_RATES)
        return error(
            f'Send {{"type": "audio_settings", "auto_gain_control": true|false, "sample_rate": {rates}}}.'
        )
    return await database_sync_to_async(store_audio_settings)(user_id, agc, rate)
