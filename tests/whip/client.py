"""A WHIP client that is not our page: aiortc in the test process, sending a known picture and tone.

The picture is dark on the left half and bright on the right (``LEFT_LUMA``/``RIGHT_LUMA``), so a
sink can check that what it decodes is this client's content. With H.264, every NAL unit the
client's encoder produced is remembered (``sent_nal_digests``): a sink holding the same bytes
proves the server kept the stream as received instead of re-encoding it.
"""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import http.client
import math
import threading
import time
import urllib.parse
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import aiortc.rtcrtpsender
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs import get_encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE

from whip.ice import pin_host_addresses

LEFT_LUMA = 40
RIGHT_LUMA = 210
TONE_HZ = 440
AUDIO_RATE = 48_000


class PatternTrack(MediaStreamTrack):
    """``fps`` frames a second of the half-dark, half-bright picture, paced in real time."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 360, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._start: float | None = None
        self._count = 0
        self._frame = self._picture()

    def _picture(self) -> av.VideoFrame:
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        y = frame.planes[0]
        row = bytes([LEFT_LUMA]) * (self.width // 2) + bytes([RIGHT_LUMA]) * (self.width - self.width // 2)
        row += bytes(y.line_size - self.width)
        y.update(row * self.height)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        return frame

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        self._count += 1
        wait = self._start + self._count / self.fps - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = self._picture()
        frame.pts = int(self._count * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        return frame


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone, 20 ms frames of stereo s16 at 48 kHz, paced in real time."""

    kind = "audio"
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._sent = 0

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._sent / AUDIO_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        samples = array("h")
        for i in range(self.SAMPLES):
            value = int(0.3 * 32767 * math.sin(2 * math.pi * TONE_HZ * (self._sent + i) / AUDIO_RATE))
            samples.extend((value, value))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=self.SAMPLES)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._sent += self.SAMPLES
        return frame


def nal_digest(nal: bytes) -> str:
    return hashlib.sha256(nal).hexdigest()


SENT_NALS: set[str] = set()
KEYFRAMES_SENT = [0]


class RecordingH264Encoder(H264Encoder):
    """aiortc's own encoder, remembering each slice it sends (the test's evidence of passthrough)."""

    def encode(self, frame: av.Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        nals = list(self._encode_frame(frame, force_keyframe))  # type: ignore[arg-type]
        for nal in nals:
            if nal and nal[0] & 0x1F in (1, 5):
                SENT_NALS.add(nal_digest(nal))
            if nal and nal[0] & 0x1F == 5:
                KEYFRAMES_SENT[0] += 1
        timestamp = int(frame.pts * frame.time_base * VIDEO_CLOCK_RATE)  # type: ignore[operator]
        return self._packetize(nals), timestamp


def _recording_encoder(codec):  # type: ignore[no-untyped-def]
    if codec.mimeType.lower() == "video/h264":
        return RecordingH264Encoder()
    return get_encoder(codec)


@dataclass
class WhipAnswer:
    status: int
    headers: dict[str, str]
    body: str


def whip_request(
    url: str,
    method: str,
    token: str | None,
    body: str = "",
    content_type: str = "application/sdp",
    headers: dict[str, str] | None = None,
) -> WhipAnswer:
    """One HTTP request to the WHIP server (http.client: nothing of ours in between)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if body:
        sent["Content-Type"] = content_type
    try:
        conn.request(method, parts.path, body=body.encode() if body else None, headers=sent)
        response = conn.getresponse()
        return WhipAnswer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        )
    finally:
        conn.close()


@dataclass
class WhipClient:
    """Publishes PatternTrack (+ ToneTrack) to a WHIP endpoint from a loop in its own thread."""

    endpoint: str
    token: str
    video_codec: str = "video/H264"
    width: int = 640
    height: int = 360
    audio: bool = True
    answer: WhipAnswer | None = None
    location: str | None = None
    connection_states: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.pc: RTCPeerConnection | None = None

    def _run(self, coro, timeout: float = 60):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def offer(self) -> str:
        """The SDP offer this client would send (without sending it)."""
        return self._run(self._offer())

    def publish(self) -> WhipAnswer:
        """POST the offer; on 201, apply the answer and start sending."""
        self.thread.start()
        offer = self._run(self._offer())
        self.answer = whip_request(self.endpoint, "POST", self.token, offer)
        if self.answer.status == 201:
            self.location = self.answer.headers["location"]
            self._run(self.pc.setRemoteDescription(RTCSessionDescription(self.answer.body, "answer")))  # type: ignore[union-attr]
        return self.answer

    def delete(self, token: str | None = None) -> WhipAnswer:
        assert self.location is not None
        return whip_request(self.location, "DELETE", token or self.token)

    @property
    def connection_state(self) -> str:
        return self.pc.connectionState if self.pc is not None else "new"

    async def _offer(self) -> str:
        pin_host_addresses(["127.0.0.1"])
        aiortc.rtcrtpsender.get_encoder = _recording_encoder
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.on("connectionstatechange", lambda: self.connection_states.append(self.pc.connectionState))  # type: ignore[union-attr]
        video = self.pc.addTransceiver(PatternTrack(self.width, self.height), direction="sendonly")
        codecs = [
            c
            for c in RTCRtpSender.getCapabilities("video").codecs
            if c.mimeType in (self.video_codec, "video/rtx")
        ]
        video.setCodecPreferences(codecs)
        if self.audio:
            self.pc.addTransceiver(ToneTrack(), direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    def close(self) -> None:
        if self.pc is not None and self.thread.is_alive():
            self._run(self.pc.close(), timeout=20)
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


# ------------------------------------------------------------------ what a sink received


@dataclass
class SinkContent:
    video_frames: int = 0
    left_luma: float = 0.0
    right_luma: float = 0.0
    width: int = 0
    height: int = 0
    profile: str = ""
    audio_rms: float = 0.0
    nal_digests: list[str] = field(default_factory=list)
    keyframe_times: list[float] = field(default_factory=list)


def _avcc_nals(data: bytes) -> list[bytes]:
    nals, i = [], 0
    while i + 4 <= len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        nals.append(data[i + 4 : i + 4 + size])
        i += 4 + size
    return nals


def _luma(frame: av.VideoFrame, x0: int, x1: int) -> float:
    plane = frame.planes[0]
    raw = bytes(plane)
    total = count = 0
    for y in range(frame.height // 4, frame.height * 3 // 4, 8):
        row = raw[y * plane.line_size + x0 : y * plane.line_size + x1]
        total += sum(row)
        count += len(row)
    return total / max(count, 1)


def read_sink(path: Path) -> SinkContent:
    """Decode a sink's FLV recording: frames, the pattern's two halves, audio level, slices."""
    content = SinkContent()
    squares = 0.0
    samples = 0
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type in ("video", "audio")]
        video = container.streams.video[0] if container.streams.video else None
        if video is not None:
            content.profile = video.codec_context.profile or ""
        for packet in container.demux(streams):
            if packet.size == 0:
                continue
            if packet.stream.type == "video":
                content.nal_digests += [
                    nal_digest(n) for n in _avcc_nals(bytes(packet)) if n and n[0] & 0x1F in (1, 5)
                ]
                if packet.is_keyframe and packet.pts is not None:
                    content.keyframe_times.append(float(packet.pts * packet.time_base))
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for frame in frames:
                if isinstance(frame, av.VideoFrame):
                    content.video_frames += 1
                    content.width, content.height = frame.width, frame.height
                    if content.video_frames == 30:  # a settled picture
                        w = frame.width
                        content.left_luma = _luma(frame, w // 8, w * 3 // 8)
                        content.right_luma = _luma(frame, w * 5 // 8, w * 7 // 8)
                elif isinstance(frame, av.AudioFrame):
                    plane = (
                        array("f", bytes(frame.planes[0])[: frame.samples * 4])
                        if frame.format.name == "fltp"
                        else array("f")
                    )
                    squares += sum(v * v for v in plane)
                    samples += len(plane)
    content.audio_rms = math.sqrt(squares / samples) if samples else 0.0
    return content
