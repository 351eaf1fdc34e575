"""The local test destination's preview: which connections are local sinks, and their HLS files.

nginx-rtmp's ``sink`` app writes ``<hls dir>/<name>.m3u8`` and ``<name>-<n>.ts``. The studio
serves them through Django to the destination's owner only, under neutral names
(``index.m3u8``, ``<n>.ts``), so the sink's stream name never appears in a page or a URL.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from platforms.models import PlatformConnection

TEST_KEY_PREFIX = "test-"
PLAYLIST = "index.m3u8"
SEGMENT = re.compile(r"^(\d{1,9})\.ts$")


def local_sink_url() -> str:
    return f"rtmp://127.0.0.1:{settings.RTMP_PORT}/sink"


def is_local_test_destination(connection: PlatformConnection) -> bool:
    return (
        connection.kind == PlatformConnection.Kind.CUSTOM
        and connection.rtmp_url == local_sink_url()
        and connection.stream_key.startswith(TEST_KEY_PREFIX)
    )


def hls_dir() -> Path:
    return Path(settings.RTMP_SINK_HLS_DIR)


def rewrite_playlist(text: str, name: str) -> str:
    """Replace each ``<name>-<n>.ts`` line with ``<n>.ts``; drop any other URI line."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        match = re.fullmatch(re.escape(name) + r"-(\d{1,9})\.ts", line.strip())
        if match:
            out.append(f"{match.group(1)}.ts")
    return "\n".join(out) + "\n"


def hls_file(name: str, requested: str) -> tuple[bytes, str] | None:
    """(content, content type) of the preview file ``requested`` of sink stream ``name``, or None."""
    if requested == PLAYLIST:
        path = hls_dir() / f"{name}.m3u8"
        if not path.is_file():
            return None
        return rewrite_playlist(path.read_text(), name).encode(), "application/vnd.apple.mpegurl"
    match = SEGMENT.match(requested)
    if not match:
        return None
    path = hls_dir() / f"{name}-{int(match.group(1))}.ts"
    return (path.read_bytes(), "video/mp2t") if path.is_file() else None
