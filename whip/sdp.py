"""Pure SDP checks and edits for WHIP (no aiortc, no Django): tested against exact strings."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_OFFER_BYTES = 64 * 1024
# What we can publish: H.264 as received, or VP8 re-encoded; Opus to AAC.
VIDEO_CODECS = ("h264", "vp8")
AUDIO_CODECS = ("opus",)


class InvalidOffer(Exception):
    """The offer cannot start a session; the message says why (shown to the client, 400)."""


@dataclass(frozen=True)
class OfferSummary:
    has_video: bool
    has_audio: bool
    video_codecs: tuple[str, ...]  # lower-case names, in the offer's order

    @property
    def keeps_h264(self) -> bool:
        return "h264" in self.video_codecs


_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([A-Za-z0-9_.-]+)/", re.MULTILINE)


def _sections(sdp: str) -> list[str]:
    parts = re.split(r"(?m)^(?=m=)", sdp)
    return parts[1:]


def check_offer(sdp: str) -> OfferSummary:
    """What a WHIP offer sends, or InvalidOffer with a reason a person can act on."""
    if len(sdp.encode()) > MAX_OFFER_BYTES:
        raise InvalidOffer(f"The offer is larger than {MAX_OFFER_BYTES // 1024} KiB.")
    text = sdp.replace("\r\n", "\n")
    if not text.startswith("v=0\n"):
        raise InvalidOffer("The body is not an SDP offer (it must start with v=0).")
    sections = _sections(text)
    if not sections:
        raise InvalidOffer("The offer has no media section (m=audio or m=video).")
    if "a=fingerprint:" not in text:
        raise InvalidOffer("The offer has no DTLS fingerprint (a=fingerprint).")
    if "a=ice-ufrag:" not in text or "a=ice-pwd:" not in text:
        raise InvalidOffer("The offer has no ICE credentials (a=ice-ufrag, a=ice-pwd).")
    video: list[str] = []
    has_video = has_audio = False
    for section in sections:
        kind = section[2:].split(" ", 1)[0]
        if kind not in ("audio", "video"):
            continue
        if re.search(r"(?m)^a=(recvonly|inactive)$", section):
            raise InvalidOffer(f"The offer's {kind} section does not send: WHIP publishes (sendonly).")
        names = [m.group(2).lower() for m in _RTPMAP.finditer(section)]
        if kind == "video":
            has_video = True
            video += [n for n in names if n in VIDEO_CODECS and n not in video]
            if not any(n in VIDEO_CODECS for n in names):
                raise InvalidOffer("The offer's video codecs are not supported: offer H.264 or VP8.")
        else:
            has_audio = True
            if not any(n in AUDIO_CODECS for n in names):
                raise InvalidOffer("The offer's audio codecs are not supported: offer Opus.")
    if not has_video:
        raise InvalidOffer("The offer sends no video.")
    return OfferSummary(has_video=has_video, has_audio=has_audio, video_codecs=tuple(video))


def with_start_bitrate(answer: str, kbps: int) -> str:
    """The answer with ``x-google-start-bitrate`` on each video codec's fmtp line (not RTX).

    Chrome then starts sending at ``kbps`` instead of 300 kb/s, and at full resolution within
    seconds instead of ramping for half a minute against aiortc's REMB.
    """
    out: list[str] = []
    newline = "\r\n" if "\r\n" in answer else "\n"
    for section in re.split(r"(?m)^(?=m=)", answer):
        if section.startswith("m=video"):
            media_pts = {m.group(1) for m in _RTPMAP.finditer(section) if m.group(2).lower() in VIDEO_CODECS}
            with_fmtp = {m.group(1) for m in re.finditer(r"(?m)^a=fmtp:(\d+) ", section)}

            def add(match: re.Match[str], media_pts: set[str] = media_pts) -> str:
                line = match.group(0)
                if match.group(1) in media_pts and "x-google-start-bitrate" not in line:
                    return f"{line};x-google-start-bitrate={kbps}"
                return line

            section = re.sub(r"(?m)^a=fmtp:(\d+) [^\r\n]*", add, section)
            for pt in sorted(media_pts - with_fmtp):
                # VP8 has no fmtp line of its own: give it one after its rtpmap.
                section = re.sub(
                    rf"(?m)^(a=rtpmap:{pt} [^\r\n]*)",
                    lambda m, pt=pt: f"{m.group(1)}{newline}a=fmtp:{pt} x-google-start-bitrate={kbps}",
                    section,
                )
        out.append(section)
    return "".join(out)
