"""Keep the browser's H.264 as received: aiortc hands us access units instead of decoded pictures.

aiortc has no public API for encoded frames (aiortc#449). Its receiver looks up a decoder per
codec through ``aiortc.rtcrtpreceiver.get_decoder``; for H.264 we return a "decoder" whose
``decode`` gives back the jitter buffer's frame as one ``av.Packet`` (Annex-B access unit, 90 kHz
RTP stamp). The receiving track then yields packets, which the publisher muxes as they are:
about a quarter of the CPU of decoding and encoding again (docs/performance.md). Other codecs
(VP8) are decoded as before and go through the re-encode fallback.

This touches a private API: aiortc is pinned exactly, ``install`` fails loudly if the hook point
is gone, and tests/whip covers the path end to end (the sink receives the client's own bytes).
"""

from __future__ import annotations

import fractions
from typing import Any

import aiortc.rtcrtpreceiver
import av

RTP_VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)
_original_get_decoder = aiortc.rtcrtpreceiver.get_decoder


class PassthroughH264:
    """Quacks like aiortc's H264Decoder; returns the encoded access unit untouched."""

    def decode(self, encoded_frame: Any) -> list[av.Packet]:
        packet = av.Packet(encoded_frame.data)
        packet.pts = packet.dts = encoded_frame.timestamp
        packet.time_base = RTP_VIDEO_TIME_BASE
        return [packet]


def decoder_for(codec: Any) -> Any:
    if codec.mimeType.lower() == "video/h264":
        return PassthroughH264()
    return _original_get_decoder(codec)


def install() -> None:
    """Route every H.264 receiver of this process through ``PassthroughH264`` (idempotent)."""
    if not callable(getattr(aiortc.rtcrtpreceiver, "get_decoder", None)):
        raise RuntimeError("aiortc changed: rtcrtpreceiver.get_decoder is gone (the H.264 passthrough hook)")
    aiortc.rtcrtpreceiver.get_decoder = decoder_for


def installed() -> bool:
    return aiortc.rtcrtpreceiver.get_decoder is decoder_for


def h264_nal_types(access_unit: bytes) -> list[int]:
    """The NAL unit types of an Annex-B access unit, in order (5 = IDR, 7 = SPS, 8 = PPS)."""
    types = []
    i, n = 0, len(access_unit)
    while True:
        i = access_unit.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= n:
            return types
        types.append(access_unit[i + 3] & 0x1F)
        i += 3


def is_h264_keyframe(access_unit: bytes) -> bool:
    """An IDR with its parameter sets: where a viewer (and the FLV header) can start."""
    types = set(h264_nal_types(access_unit))
    return {5, 7, 8} <= types
