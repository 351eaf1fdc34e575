"""Asking this node's nginx-rtmp to disconnect a publisher, through its loopback control module.

nginx-rtmp otherwise drops a stopped session's publisher only at its next ``on_update`` (up to
``RTMP_UPDATE_SECONDS`` later), so OBS kept sending and the session's relays kept reading.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from django.conf import settings

from streaming.rtmp_config import drop_publisher_url

logger = logging.getLogger(__name__)


def drop_publisher(stream_name: str, timeout: float = 5.0) -> int:
    """Disconnect the publisher of ``stream_name`` on this node's ingest; how many were dropped
    (0: none was connected). Raises OSError when the control module cannot be reached."""
    url = drop_publisher_url(settings.RTMP_CONTROL_PORT, stream_name)
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our loopback URL
        body = response.read(32).decode("ascii", "replace").strip()
    return int(body) if body.isdigit() else 0
