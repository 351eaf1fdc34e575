"""Asking this node's nginx-rtmp to disconnect a publisher, through its loopback control module.

nginx-rtmp otherwise drops a stopped session's publisher only at its next ``on_update`` (up to
``RTMP_UPDATE_SECONDS`` later), so OBS kept sending and the session's relays kept reading.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from django.conf import settings

from streaming.renditions import rendition_stream_name
from streaming.rtmp_config import LIVE_APP, RENDITION_APP, drop_url

logger = logging.getLogger(__name__)


def drop(who: str, app: str, stream_name: str, timeout: float = 5.0) -> int:
    """Disconnect the publisher (or every reader) of ``app``/``stream_name`` on this node's ingest;
    how many were dropped. Raises OSError when the control module cannot be reached."""
    url = drop_url(settings.RTMP_CONTROL_PORT, who, app, stream_name)
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our loopback URL
        body = response.read(32).decode("ascii", "replace").strip()
    return int(body) if body.isdigit() else 0


def drop_session_streams(stream_name: str, renditions: list[str]) -> int:
    """A stopped session: disconnect its publisher (OBS sees the stream end) and every reader of
    its stream and renditions. With ``idle_streams on`` nginx keeps a reader waiting when the
    publisher goes; dropped, each relay, encoder and recorder ends at once and its supervisor
    sees the stop now instead of at its next heartbeat and stop grace period."""
    dropped = drop("publisher", LIVE_APP, stream_name)
    dropped += drop("subscriber", LIVE_APP, stream_name)
    for suffix in renditions:
        dropped += drop("subscriber", RENDITION_APP, rendition_stream_name(stream_name, suffix))
    return dropped
