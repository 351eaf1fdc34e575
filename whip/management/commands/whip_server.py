"""``manage.py whip_server``: this media node's WHIP endpoint (its own Procfile entry, ``whip``)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from whip import ice, passthrough, registry
from whip.http import start_http_server
from whip.publisher import FallbackVideo
from whip.server import WhipServer
from whip.sessions import SessionSettings

logger = logging.getLogger("whip")


def server_from_settings() -> WhipServer:
    return WhipServer(
        settings=SessionSettings(
            rtmp_host=settings.RTMP_LOCAL_HOST,
            rtmp_port=settings.RTMP_PORT,
            ice_servers=tuple(settings.WHIP_ICE_SERVERS),
            start_bitrate_kbps=settings.WHIP_START_BITRATE_KBPS,
            keyframe_seconds=settings.WHIP_KEYFRAME_SECONDS,
            media_timeout_seconds=settings.WHIP_MEDIA_TIMEOUT_SECONDS,
            fallback=FallbackVideo(
                height=settings.WHIP_FALLBACK_HEIGHT,
                kbps=settings.WHIP_FALLBACK_KBPS,
                keyframe_seconds=settings.WHIP_KEYFRAME_SECONDS,
            ),
        ),
        public_url=settings.WHIP_PUBLIC_URL,
        allowed_origins=tuple(o.rstrip("/") for o in settings.WHIP_ALLOWED_ORIGINS),
        max_sessions=settings.WHIP_MAX_SESSIONS,
    )


async def heartbeat(whip: WhipServer) -> None:
    """Announce this node's own WHIP URL, sessions and capacity (whip.registry) until cancelled."""
    while True:
        try:
            await asyncio.to_thread(
                registry.announce, settings.MEDIA_NODE, whip.public_url, len(whip.sessions), whip.max_sessions
            )
        except Exception as exc:  # Redis away: keep serving the sessions already here
            logger.warning("whip: could not announce this node: %s", type(exc).__name__)
        await asyncio.sleep(registry.HEARTBEAT_SECONDS)


async def serve(host: str, port: int) -> int:
    """Serve until SIGTERM/SIGINT, then end every session cleanly; the number of sessions ended."""
    whip = server_from_settings()
    http = await start_http_server(whip.handle, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logger.info(
        "whip server listening on %s:%s, publishing to the ingest on port %s", host, port, settings.RTMP_PORT
    )
    announcing = asyncio.ensure_future(heartbeat(whip))
    print(f"whip server ready on {host}:{port}", flush=True)
    await stop.wait()
    announcing.cancel()
    try:
        await asyncio.to_thread(registry.withdraw, settings.MEDIA_NODE)
    except Exception as exc:
        logger.warning("whip: could not withdraw this node: %s", type(exc).__name__)
    http.close()
    ended = await whip.close_all("The media node's WHIP server is restarting.")
    await http.wait_closed()
    return ended


class Command(BaseCommand):
    help = "Serve WHIP (RFC 9725) for this media node: WebRTC in, RTMP into the local ingest."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=None, help="address to listen on (default WHIP_BIND)")
        parser.add_argument("--port", type=int, default=None, help="port (default WHIP_PORT)")

    def handle(self, *args: Any, **options: Any) -> None:
        # aioice logs every candidate pair check at INFO: a dozen lines per session.
        logging.getLogger("aioice").setLevel(logging.WARNING)
        passthrough.install()
        ice.pin_host_addresses(settings.WHIP_ICE_ADDRESSES)
        host = options["bind"] or settings.WHIP_BIND
        port = options["port"] or settings.WHIP_PORT
        ended = asyncio.run(serve(host, port))
        self.stdout.write(f"whip server stopped: {ended} session(s) ended cleanly")
