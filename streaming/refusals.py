"""Telling a creator, live, that a publish was refused: why, and what to do.

nginx-rtmp only hears 403 and OBS only shows "failed to connect"; the studio is the one place
the creator can read the reason. A refusal is pushed over the user's status group (the
``ws/streams/`` consumer rebuilds it from an allow-list) and kept for a few minutes, so a
studio opened after the attempt still shows it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

from django.core.cache import cache

from billing.prompts import upgrade_url
from streaming.status import push_to_user

logger = logging.getLogger(__name__)
REMEMBER_SECONDS = 600

SERVER_ERROR = (
    "Prism could not start your stream because of an error on this server. "
    "Go live again; if it keeps happening, tell the people who run this server."
)
OLD_KEY = (
    "OBS is using an old stream key of yours, so Prism refused the stream. "
    "Copy your current stream key from this page into OBS and go live again."
)
ALREADY_LIVE = (
    "Another stream of yours is still live, so Prism refused this one. "
    "Stop the other stream (or stop it in OBS) and go live again."
)


@dataclass(frozen=True)
class Refusal:
    message: str
    upgrade_url: str = ""
    at: float = 0.0  # when (epoch seconds): which publish it answered


def refusal_key(user_id: int) -> str:
    return f"publish-refused:{user_id}"


def tell_publish_refused(user_id: int, message: str, *, upgrade: bool = False) -> None:
    """Show the creator why their publish was refused (with the upgrade link when it is the plan)."""
    refusal = Refusal(message[:300], upgrade_url() if upgrade else "", time.time())
    try:
        cache.set(refusal_key(user_id), asdict(refusal), timeout=REMEMBER_SECONDS)
    except Exception:  # the live push below still tells an open studio
        logger.warning("could not remember a refused publish of user %s", user_id, exc_info=True)
    push_to_user(user_id, {"type": "stream.refused", **asdict(refusal)})


def forget_publish_refused(user_id: int) -> None:
    """A publish was accepted: the last refusal is history."""
    try:
        cache.delete(refusal_key(user_id))
    except Exception:
        logger.warning("could not forget a refused publish of user %s", user_id, exc_info=True)


def last_publish_refused(user_id: int) -> Refusal | None:
    stored = cache.get(refusal_key(user_id))
    if not isinstance(stored, dict):
        return None
    at = stored.get("at", 0.0)
    return Refusal(
        str(stored.get("message", "")),
        str(stored.get("upgrade_url", "")),
        float(at) if isinstance(at, int | float) else 0.0,
    )
