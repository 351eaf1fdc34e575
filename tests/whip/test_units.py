"""The WHIP server's pure edges and its token, against exact values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from accounts.models import User
from streaming.models import IngestKey
from whip.clock import SessionClock
from whip.http import BadRequest, parse_head
from whip.passthrough import h264_nal_types, is_h264_keyframe
from whip.publisher import RtmpTarget
from whip.sdp import with_start_bitrate
from whip.tokens import TOKEN_PREFIX, TokenRefused, mint_studio_token, verify_studio_token

ANSWER = (
    "v=0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 102 103 96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
)


def test_the_answer_asks_for_a_start_bitrate_on_each_video_codec_only() -> None:
    assert with_start_bitrate(ANSWER, 2000) == (
        "v=0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 102 103 96\r\n"
        "a=rtpmap:102 H264/90000\r\n"
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;"
        "x-google-start-bitrate=2000\r\n"
        "a=rtpmap:103 rtx/90000\r\n"
        "a=fmtp:103 apt=102\r\n"
        "a=rtpmap:96 VP8/90000\r\n"
        "a=fmtp:96 x-google-start-bitrate=2000\r\n"
    )
    assert with_start_bitrate(with_start_bitrate(ANSWER, 2000), 2000) == with_start_bitrate(ANSWER, 2000)


def test_audio_and_video_share_one_clock_anchored_at_their_first_frames() -> None:
    clock = SessionClock(origin=100.0)
    # Video's RTP clock starts at 0 at 100.5 s; audio's at 0 at 100.7 s (each rebased by aiortc).
    assert clock.stamp("video", 0.0, 100.5) == pytest.approx(0.5)
    assert clock.stamp("audio", 0.0, 100.7) == pytest.approx(0.7)
    # Later frames follow their media clock, not their (jittery) arrival.
    assert clock.stamp("video", 1.0, 101.58) == pytest.approx(1.5)
    assert clock.stamp("audio", 1.0, 101.66) == pytest.approx(1.7)
    # A jump of the media clock by more than a second (a paused sender) re-anchors the track...
    assert clock.stamp("video", 30.0, 102.5) == pytest.approx(2.5)
    # ...and stamps never go backwards.
    assert clock.stamp("video", 29.0, 102.6) == pytest.approx(2.6)
    assert clock.stamp("video", 28.0, 102.61) >= 2.6


def test_keyframes_are_idr_access_units_with_their_parameter_sets() -> None:
    sps, pps, idr, slice_ = (
        b"\x00\x00\x00\x01\x67ab",
        b"\x00\x00\x00\x01\x68cd",
        b"\x00\x00\x01\x65ef",
        b"\x00\x00\x01\x41gh",
    )
    assert h264_nal_types(sps + pps + idr) == [7, 8, 5]
    assert is_h264_keyframe(sps + pps + idr)
    assert not is_h264_keyframe(idr)
    assert not is_h264_keyframe(slice_)


def test_request_heads_are_parsed_strictly() -> None:
    method, path, headers = parse_head(
        b"POST /whip?x=1 HTTP/1.1\r\nContent-Type: application/sdp\r\nAuthorization: Bearer t"
    )
    assert (method, path, headers["content-type"], headers["authorization"]) == (
        "POST",
        "/whip",
        "application/sdp",
        "Bearer t",
    )
    with pytest.raises(BadRequest):
        parse_head(b"POST /whip\r\n")
    with pytest.raises(BadRequest):
        parse_head(b"POST /whip HTTP/1.1\r\nno colon here")


@pytest.mark.django_db
def test_a_studio_token_names_its_user_and_expires_within_minutes(owner: User) -> None:
    token, expires_at = mint_studio_token(owner)
    assert token.startswith(TOKEN_PREFIX)
    assert ":" not in token  # a bearer token (RFC 6750) has no colon
    assert IngestKey.for_user(owner).key not in token
    assert timedelta(0) < expires_at - timezone.now() <= timedelta(minutes=5)
    assert verify_studio_token(token).user_id == owner.pk
    with pytest.raises(TokenRefused, match="expired"):
        verify_studio_token(token, now=expires_at)
    with pytest.raises(TokenRefused, match="not valid"):
        verify_studio_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


@pytest.mark.django_db
def test_a_value_signed_for_another_purpose_is_not_a_studio_token(owner: User) -> None:
    token, _ = mint_studio_token(owner)
    payload = signing.Signer(salt="prism.whip.studio-token", sep=".").unsign_object(
        token.removeprefix(TOKEN_PREFIX)
    )
    elsewhere = TOKEN_PREFIX + signing.Signer(salt="another purpose", sep=".").sign_object(payload)
    with pytest.raises(TokenRefused, match="not valid"):
        verify_studio_token(elsewhere)
    with pytest.raises(TokenRefused, match="not a studio token"):
        verify_studio_token(IngestKey.for_user(owner).key)


def test_a_misconfigured_whip_endpoint_fails_the_system_checks(settings: object) -> None:
    from whip.apps import whip_settings_errors

    assert whip_settings_errors() == []
    settings.WHIP_PUBLIC_URL = "127.0.0.1:8090/whip"  # type: ignore[attr-defined]
    settings.WHIP_TOKEN_SECONDS = 86400  # type: ignore[attr-defined]
    settings.WHIP_ALLOWED_ORIGINS = ["https://prism.example.com/studio/"]  # type: ignore[attr-defined]
    assert [e.id for e in whip_settings_errors()] == ["whip.E001", "whip.E002", "whip.E003"]


def test_the_publish_target_names_no_key_in_its_url_or_repr() -> None:
    # What log lines and errors show; the key reaches the RTMP protocol only through open_url()
    # (an option on PyAV 19, the in-process URL on PyAV 18: the WHIP e2e tests run both).
    target = RtmpTarget("127.0.0.1", 1935, "s3cret-key")
    assert "s3cret-key" not in target.url
    assert "s3cret-key" not in repr(target)
