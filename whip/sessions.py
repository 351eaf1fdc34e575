"""One WHIP session: an aiortc peer connection receiving a publisher's tracks, and the thread
that publishes them into the node's ingest (whip.publisher).

States: negotiating → live → ended. ``end`` is the one way out, idempotent, from any cause
(DELETE, the peer gone, the ingest refusing or dropping the stream, no media, server shutdown):
it stops the peer connection and closes the RTMP publish, so the ingest's on_publish_done tells
the engine the publisher left.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from whip.clock import SessionClock
from whip.credentials import Publisher, engine_refusal_since
from whip.ice import rtc_configuration
from whip.publisher import (
    DecodedAudio,
    DecodedVideo,
    EncodedVideo,
    FallbackVideo,
    RtmpPublisher,
    RtmpTarget,
)
from whip.sdp import OfferSummary, with_start_bitrate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionSettings:
    rtmp_host: str
    rtmp_port: int
    ice_servers: tuple[str, ...]
    start_bitrate_kbps: int
    keyframe_seconds: float
    media_timeout_seconds: float
    fallback: FallbackVideo


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _preferred_video_codecs() -> list:
    """H.264 first (kept as received), then the rest (re-encoded)."""
    codecs = RTCRtpReceiver.getCapabilities("video").codecs
    return sorted(codecs, key=lambda c: 0 if c.mimeType.lower() == "video/h264" else 1)


class WhipSession:
    def __init__(
        self,
        publisher: Publisher,
        token: str,
        offer: OfferSummary,
        settings: SessionSettings,
        on_ended: Callable[[WhipSession], None],
    ) -> None:
        self.id = secrets.token_urlsafe(18)
        self.user_id = publisher.user_id
        self.via = publisher.via
        self.state = "negotiating"
        self.ended_reason = ""
        self.settings = settings
        self._token_digest = digest(token)
        self._on_ended = on_ended
        self._loop = asyncio.get_running_loop()
        self._clock = SessionClock(origin=time.monotonic())
        self._created_at = time.time()  # wall clock: compared with the engine's refusals
        self._tasks: list[asyncio.Task[None]] = []
        self._video_receiver: RTCRtpReceiver | None = None
        self.first_video = asyncio.Event()
        self.pc = RTCPeerConnection(rtc_configuration(settings.ice_servers))
        self.rtmp = RtmpPublisher(
            RtmpTarget(settings.rtmp_host, settings.rtmp_port, publisher.ingest_key),
            has_audio=offer.has_audio,
            fallback=settings.fallback,
            on_end=self._publisher_ended,
            name=f"whip-{self.id[:8]}",
        )
        self._ending: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<WhipSession {self.id[:8]} user={self.user_id} via={self.via} {self.state}>"

    def created_with(self, token: str) -> bool:
        return hmac.compare_digest(self._token_digest, digest(token))

    # ------------------------------------------------------------------ start

    async def answer(self, offer_sdp: str, offer: OfferSummary) -> str:
        """Negotiate (gathering every candidate first: WHIP without trickle) and return the answer."""
        if offer.has_audio:
            self.pc.addTransceiver("audio", direction="recvonly")
        video = self.pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences(_preferred_video_codecs())
        self._video_receiver = video.receiver
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.rtmp.start()
        self.state = "live"
        self._tasks.append(asyncio.ensure_future(self._ask_for_keyframes()))
        self._tasks.append(asyncio.ensure_future(self._media_watchdog()))
        return with_start_bitrate(self.pc.localDescription.sdp, self.settings.start_bitrate_kbps)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._pump(track)))

    async def _on_connection_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self.end("The WebRTC connection closed.")

    # ------------------------------------------------------------------ media

    async def _pump(self, track: MediaStreamTrack) -> None:
        """Hand each frame (or, for H.264, each access unit) to the publisher thread, stamped."""
        while True:
            try:
                item = await track.recv()
            except MediaStreamError:
                if track.kind == "video":
                    self.end("The publisher stopped sending video.")
                return
            arrival = time.monotonic()
            if isinstance(item, av.Packet):
                at = self._clock.stamp("video", float(item.pts * item.time_base), arrival)
                self.rtmp.submit(EncodedVideo(bytes(item), at))
            elif isinstance(item, av.VideoFrame):
                at = self._clock.stamp("video", float(item.pts * item.time_base), arrival)
                self.rtmp.submit(DecodedVideo(item, at))
            elif isinstance(item, av.AudioFrame):
                at = self._clock.stamp("audio", float(item.pts * item.time_base), arrival)
                self.rtmp.submit(DecodedAudio(item, at))
                continue
            self.first_video.set()

    async def _ask_for_keyframes(self) -> None:
        """PLI every ``keyframe_seconds``: browsers send an IDR only at start and when asked, and
        the platforms want a keyframe every 2 s (and viewers joining need one)."""
        receiver = self._video_receiver
        while receiver is not None:
            await asyncio.sleep(self.settings.keyframe_seconds)
            for source in receiver.getSynchronizationSources():
                await receiver._send_rtcp_pli(source.source)  # private API: aiortc is pinned

    async def _media_watchdog(self) -> None:
        try:
            await asyncio.wait_for(self.first_video.wait(), self.settings.media_timeout_seconds)
        except TimeoutError:
            self.end(f"No video arrived within {self.settings.media_timeout_seconds:g} s.")

    def _publisher_ended(self, reason: str) -> None:
        """From the publisher thread: the ingest refused or dropped the stream."""
        self._loop.call_soon_threadsafe(self.end, reason)

    def _engine_refusal(self) -> str:
        """Why the engine refused this session's publish, if it did ("" otherwise). Blocking."""
        if self.rtmp.started.is_set():
            return ""
        try:
            return engine_refusal_since(self.user_id, self._created_at)
        except Exception as exc:  # the cache is down: the session still ends, with the plain reason
            logger.info("whip session %s: no refusal reason: %s", self.id[:8], type(exc).__name__)
            return ""

    # ------------------------------------------------------------------ end

    def end(self, reason: str) -> asyncio.Task[None]:
        """End the session (idempotent); the returned task finishes once everything is closed."""
        if self._ending is None:
            self.ended_reason = reason
            self._ending = asyncio.ensure_future(self._close(reason))
        return self._ending

    async def _close(self, reason: str) -> None:
        self.state = "ended"
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        try:
            await self.pc.close()
        except Exception as exc:
            logger.info("whip session %s: closing the peer connection: %s", self.id[:8], type(exc).__name__)
        # Closes the RTMP publish: the ingest calls on_publish_done, the engine sees the publisher leave.
        await asyncio.to_thread(self.rtmp.finish)
        # A publish the ingest refused (the plan, already live) ends with the engine's reason, whichever
        # came first here: the refused RTMP connection, or the studio closing its peer connection
        # because the engine told it over its socket.
        refused = await asyncio.to_thread(self._engine_refusal)
        if refused:
            self.ended_reason = f"The ingest refused the publish: {refused}"
        logger.info("whip session %s of user %s ended: %s", self.id[:8], self.user_id, self.ended_reason)
        self._on_ended(self)
