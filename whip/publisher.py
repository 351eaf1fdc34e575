"""Publish a WHIP session into the node's RTMP ingest, as OBS does: one thread per session owns
a PyAV FLV muxer on ``rtmp://RTMP_LOCAL_HOST:RTMP_PORT/live`` with the user's key.

Everything PyAV does here (RTMP connect and writes, Opus → AAC, the re-encode fallback) runs in
that thread, never on the asyncio loop: encoding on the loop collapsed a stream to 12-27 fps under
load (../shared/notes/studio-webrtc.md). The loop hands over items through a bounded queue; when
the thread falls behind, video items are dropped (counted) instead of the loop blocking.

The key is an RTMP option (``rtmp_playpath``), not part of the URL: it appears in no argv (there is
no child process), and no error message (PyAV names the URL, which is secret-free).
"""

from __future__ import annotations

import contextlib
import fractions
import io
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import av

from whip.passthrough import is_h264_keyframe

logger = logging.getLogger(__name__)

MS = fractions.Fraction(1, 1000)
AUDIO_RATE = 48_000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
AAC_FRAME = 1024
AAC_BITRATE = 128_000
# Audio whose stamps wander this far from the samples counted so far starts a new run of stamps.
AUDIO_RESYNC_SECONDS = 0.2
QUEUE_ITEMS = 240
# Decoded pictures waiting for the fallback encoder (a 1080p picture is 3 MB): beyond this the encoder
# is behind, and new pictures are dropped rather than queued (memory and delay stay bounded).
MAX_PENDING_PICTURES = 8
# PyAV 19 passes container options to avio_open2 (the RTMP protocol); PyAV 18 calls avio_open
# without them, so rtmp_playpath would never reach the protocol and nginx would refuse the publish.
PROTOCOL_GETS_CONTAINER_OPTIONS = int(av.__version__.split(".")[0]) >= 19
# The FLV muxer holds a packet at most this long waiting for the other stream's (µs).
MAX_INTERLEAVE_DELTA_US = 300_000


@dataclass(frozen=True)
class RtmpTarget:
    host: str
    port: int
    key: str = field(repr=False)
    app: str = "live"

    @property
    def url(self) -> str:
        """Secret-free: the key travels as the ``rtmp_playpath`` option."""
        return f"rtmp://{self.host}:{self.port}/{self.app}"

    def open_url(self) -> str:
        """What ``av.open`` gets. PyAV 19 hands the container options to the RTMP protocol, so the
        key stays out of the URL. PyAV 18 (the wheel on Python 3.11) opens the protocol without them,
        so there the key goes in this in-process URL: still in no argv, and never logged (PyAV
        leaves FFmpeg's own log off, and our log lines use ``url``)."""
        return self.url if PROTOCOL_GETS_CONTAINER_OPTIONS else f"{self.url}/{self.key}"


@dataclass(frozen=True)
class FallbackVideo:
    height: int
    kbps: int
    fps: int = 30
    keyframe_seconds: float = 2.0


@dataclass(frozen=True)
class EncodedVideo:
    data: bytes  # one H.264 access unit, Annex-B
    at: float  # session seconds


@dataclass(frozen=True)
class DecodedVideo:
    frame: av.VideoFrame
    at: float


@dataclass(frozen=True)
class DecodedAudio:
    frame: av.AudioFrame
    at: float


Item = EncodedVideo | DecodedVideo | DecodedAudio


class PublishFailed(Exception):
    pass


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


class RtmpPublisher(threading.Thread):
    """Muxes a session's items to RTMP. ``on_end(reason)`` is called once, from this thread, when
    publishing stops for a reason of its own (refused, dropped by the ingest); not after ``finish``."""

    def __init__(
        self,
        target: RtmpTarget,
        *,
        has_audio: bool,
        fallback: FallbackVideo,
        on_end: Callable[[str], None],
        name: str = "whip-publisher",
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.target = target
        self.has_audio = has_audio
        self.fallback = fallback
        self.on_end = on_end
        self.items: queue.Queue[Item | None] = queue.Queue(maxsize=QUEUE_ITEMS)
        self.dropped = 0
        self.mode = ""  # "passthrough" or "re-encode", once video has started
        self.video_frames = 0
        self.started = threading.Event()  # the ingest accepted the publish
        self._stopping = threading.Event()
        self._pending_pictures = 0
        self._pending_lock = threading.Lock()
        self._container: av.container.OutputContainer | None = None
        self._video: av.VideoStream | None = None
        self._audio: av.AudioStream | None = None
        self._t0 = 0.0
        self._last_video_ms = -1
        self._audio_fifo: av.AudioFifo | None = None
        self._audio_resampler: av.AudioResampler | None = None
        self._audio_base = 0  # samples: stamp of the first sample now in the FIFO's run
        self._audio_written = 0
        self._audio_read = 0

    # ------------------------------------------------------------------ the event loop's side

    def submit(self, item: Item) -> bool:
        """Queue ``item`` without blocking; False (and counted) if the thread is behind."""
        if self._stopping.is_set():
            return False
        picture = isinstance(item, DecodedVideo)
        with self._pending_lock:
            if picture and self._pending_pictures >= MAX_PENDING_PICTURES:
                self.dropped += 1
                return False
            try:
                self.items.put_nowait(item)
            except queue.Full:
                self.dropped += 1
                return False
            if picture:
                self._pending_pictures += 1
        return True

    def finish(self, timeout: float = 10.0) -> None:
        """Stop: close the FLV stream (the ingest sees the publisher leave) and join. Blocking."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # the thread also checks _stopping between items
            self.items.put_nowait(None)
        if self.is_alive():
            self.join(timeout)

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        reason = ""
        try:
            while not self._stopping.is_set():
                try:
                    item = self.items.get(timeout=0.5)
                except queue.Empty:
                    continue
                if item is None:
                    break
                self._handle(item)
        except PublishFailed as exc:
            reason = str(exc)
        except Exception as exc:  # anything PyAV raises: keep the message generic, never the key
            logger.warning("whip publisher failed: %s", type(exc).__name__)
            reason = "The stream to the ingest failed."
        finally:
            self._close()
        if reason and not self._stopping.is_set():
            self.on_end(reason)

    def _handle(self, item: Item) -> None:
        if isinstance(item, DecodedVideo):
            with self._pending_lock:
                self._pending_pictures -= 1
        if isinstance(item, DecodedAudio):
            if self._container is not None and self._audio is not None:
                self._write_audio(item)
            return
        if self._container is None and not self._open(item):
            return
        if isinstance(item, EncodedVideo):
            self._write_encoded(item)
        else:
            self._write_decoded(item)

    def _open(self, first: EncodedVideo | DecodedVideo) -> bool:
        """Start the RTMP publish at the first picture a viewer can start from."""
        if isinstance(first, EncodedVideo) and not is_h264_keyframe(first.data):
            return False  # wait for the keyframe (a PLI is on its way)
        container = av.open(
            self.target.open_url(),
            "w",
            format="flv",
            container_options={
                "rtmp_app": self.target.app,
                "rtmp_playpath": self.target.key,
                "rtmp_live": "live",
                "max_interleave_delta": str(MAX_INTERLEAVE_DELTA_US),
                "flvflags": "no_duration_filesize",
            },
            timeout=(10.0, 10.0),
        )
        try:
            if isinstance(first, EncodedVideo):
                self.mode = "passthrough"
                # The stream's parameters (size, profile, SPS/PPS as extradata) from the keyframe itself.
                with av.open(io.BytesIO(first.data), format="h264") as probe:
                    video = container.add_stream_from_template(probe.streams.video[0])
            else:
                self.mode = "re-encode"
                video = self._fallback_stream(container, first.frame)
            video.time_base = MS
            if self.has_audio:
                audio = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
                audio.bit_rate = AAC_BITRATE
                audio.time_base = AUDIO_TIME_BASE
                self._audio = audio
                self._audio_resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        except Exception:
            container.close()
            raise
        self._container, self._video, self._t0 = container, video, first.at
        return True

    def _fallback_stream(
        self, container: av.container.OutputContainer, frame: av.VideoFrame
    ) -> av.VideoStream:
        height = _even(self.fallback.height)
        width = _even(height * frame.width / max(frame.height, 1))
        stream = container.add_stream("libx264", rate=self.fallback.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = self.fallback.kbps * 1000
        stream.codec_context.gop_size = max(1, round(self.fallback.fps * self.fallback.keyframe_seconds))
        stream.codec_context.time_base = MS
        stream.codec_context.options = {"preset": "veryfast", "tune": "zerolatency", "sc_threshold": "0"}
        return stream

    def _mux(self, packets: list[av.Packet] | av.Packet) -> None:
        assert self._container is not None
        try:
            self._container.mux(packets)
            self.started.set()
        except av.FFmpegError as exc:
            if not self.started.is_set():
                raise PublishFailed("The ingest refused the publish.") from exc
            raise PublishFailed("The ingest dropped the stream.") from exc

    def _video_ms(self, at: float) -> int | None:
        if at < self._t0:
            return None
        ms = max(round((at - self._t0) * 1000), self._last_video_ms + 1)
        self._last_video_ms = ms
        return ms

    def _write_encoded(self, item: EncodedVideo) -> None:
        ms = self._video_ms(item.at)
        if ms is None:
            return
        packet = av.Packet(item.data)
        packet.stream = self._video
        packet.time_base = MS
        packet.pts = packet.dts = ms
        packet.is_keyframe = is_h264_keyframe(item.data)
        self._mux(packet)
        self.video_frames += 1

    def _write_decoded(self, item: DecodedVideo) -> None:
        ms = self._video_ms(item.at)
        if ms is None or self._video is None:
            return
        frame = item.frame.reformat(width=self._video.width, height=self._video.height, format="yuv420p")
        frame.pts, frame.time_base = ms, MS
        self._mux(self._video.encode(frame))
        self.video_frames += 1

    def _write_audio(self, item: DecodedAudio) -> None:
        assert self._audio is not None
        assert self._audio_resampler is not None
        if item.at < self._t0:
            return
        sample = round((item.at - self._t0) * AUDIO_RATE)
        expected = self._audio_base + self._audio_written
        if self._audio_fifo is None or abs(sample - expected) > AUDIO_RESYNC_SECONDS * AUDIO_RATE:
            # A new run of stamps: start from this frame's stamp, after what is already out.
            self._audio_fifo = av.AudioFifo()
            self._audio_base = max(sample, self._audio_base + self._audio_read)
            self._audio_written = self._audio_read = 0
        for frame in self._audio_resampler.resample(item.frame):
            frame.pts = None
            self._audio_fifo.write(frame)
            self._audio_written += frame.samples
        while self._audio_fifo.samples >= AAC_FRAME:
            chunk = self._audio_fifo.read(AAC_FRAME)
            chunk.pts = self._audio_base + self._audio_read
            chunk.time_base = AUDIO_TIME_BASE
            chunk.sample_rate = AUDIO_RATE
            self._audio_read += AAC_FRAME
            self._mux(self._audio.encode(chunk))

    def _close(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            if self.mode == "re-encode" and self._video is not None:
                container.mux(self._video.encode(None))
        except Exception as exc:  # the ingest may be gone already: closing is what matters
            logger.info("whip publisher flush failed: %s", type(exc).__name__)
        try:
            container.close()
        except Exception as exc:
            logger.info("whip publisher closed with %s", type(exc).__name__)
