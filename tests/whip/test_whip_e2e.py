"""End to end on loopback: an aiortc WHIP client → manage.py whip_server → nginx-rtmp ingest →
web callbacks → media worker → relays → two sinks, whose recordings are decoded and checked."""

from __future__ import annotations

import signal

import pytest
from django.utils import timezone

from billing.plans import PlanName
from tests.rtmp_stack import SinkServer
from tests.streaming.conftest import add_sink_destination, creator, session_of, states, wait_for
from tests.whip.client import LEFT_LUMA, RIGHT_LUMA, SENT_NALS, WhipClient, read_sink
from tests.whip.conftest import WhipNode
from whip.tokens import mint_studio_token

pytestmark = pytest.mark.django_db(transaction=True)


def assert_shows_the_clients_picture_and_tone(
    sink: SinkServer, key: str, size: tuple[int, int] = (640, 360)
) -> None:
    content = read_sink(sink.recording(key))
    assert content.video_frames > 60, key
    assert (content.width, content.height) == size
    assert abs(content.left_luma - LEFT_LUMA) < 12, content
    assert abs(content.right_luma - RIGHT_LUMA) < 12, content
    assert content.audio_rms > 0.1, content  # the 440 Hz tone at 0.3 of full scale: ~0.21


def test_a_whip_client_with_the_stream_key_reaches_two_sinks_with_its_own_h264(whip_node: WhipNode) -> None:
    user, key = creator("whip@example.com", PlanName.PRO)
    _, stranger_key = creator("stranger-whip@example.com", PlanName.PRO)
    with SinkServer() as first, SinkServer() as second:
        add_sink_destination(user, first.url("key-1"), "first")
        add_sink_destination(user, second.url("key-2"), "second")
        SENT_NALS.clear()
        client = WhipClient(whip_node.whip.endpoint, key, video_codec="video/H264")
        try:
            answer = client.publish()
            assert answer.status == 201, answer
            assert answer.headers["content-type"] == "application/sdp"
            assert answer.headers["location"].startswith(whip_node.whip.endpoint + "/sessions/")
            assert "x-google-start-bitrate=2000" in answer.body
            wait_for(
                lambda: states(user) == {"first": "LIVE", "second": "LIVE"}, 45, "both destinations LIVE"
            )
            assert session_of(user).node == whip_node.node.name
            wait_for(
                lambda: first.decoded_frames("key-1") > 150 and second.decoded_frames("key-2") > 150,
                45,
                "5 s of video at both sinks",
            )
            refused = client.delete(stranger_key)
            assert refused.status == 403
            assert "another user" in refused.body
            assert client.delete().status == 200
            wait_for(lambda: not session_of(user).publisher_connected, 15, "the publisher left the ingest")
            wait_for(lambda: client.connection_state == "closed", 15, "the client's connection closed")
            assert client.delete().status == 404
        finally:
            client.close()
        for sink, name in ((first, "key-1"), (second, "key-2")):
            assert_shows_the_clients_picture_and_tone(sink, name)
            content = read_sink(sink.recording(name))
            # Kept as received: the sink holds the very slices the client's encoder made.
            assert content.profile == "Constrained Baseline"
            kept = [d for d in content.nal_digests if d in SENT_NALS]
            assert len(kept) > 100
            assert len(kept) >= 0.95 * len(content.nal_digests)
            # A keyframe at least every 2 s (PLI), whatever the client's encoder would do on its own.
            gaps = [b - a for a, b in zip(content.keyframe_times, content.keyframe_times[1:], strict=False)]
            assert gaps
            assert max(gaps) <= 2.6, content.keyframe_times
    log = whip_node.whip.output()
    assert key not in log
    assert "via stream key" in log


def test_a_studio_token_publishes_a_vp8_offer_re_encoded_and_a_restart_ends_it_cleanly(
    whip_node: WhipNode, settings: object
) -> None:
    user, key = creator("studio-whip@example.com", PlanName.PRO)
    with SinkServer() as first, SinkServer() as second:
        add_sink_destination(user, first.url("key-1"), "first")
        add_sink_destination(user, second.url("key-2"), "second")
        settings.WHIP_TOKEN_SECONDS = 6  # type: ignore[attr-defined]
        token, expires_at = mint_studio_token(user)
        assert key not in token
        SENT_NALS.clear()
        client = WhipClient(whip_node.whip.endpoint, token, video_codec="video/VP8")
        try:
            answer = client.publish()
            assert answer.status == 201, answer
            assert "VP8" in answer.body
            assert "H264" not in answer.body
            wait_for(
                lambda: states(user) == {"first": "LIVE", "second": "LIVE"}, 45, "both destinations LIVE"
            )
            # The token expires; the session it started goes on.
            wait_for(lambda: timezone.now() > expires_at, 10, "the token to expire")
            frames = first.decoded_frames("key-1")
            wait_for(lambda: first.decoded_frames("key-1") > frames + 60, 30, "2 s more video after expiry")
            assert second.decoded_frames("key-2") > 60
            # A restart of the WHIP server (SIGTERM) ends its sessions cleanly.
            assert whip_node.whip.stop(signal.SIGTERM) == 0
            wait_for(lambda: not session_of(user).publisher_connected, 15, "the publisher left the ingest")
            wait_for(
                lambda: client.connection_state in ("closed", "failed"), 30, "the client's connection ended"
            )
        finally:
            client.close()
        for sink, name in ((first, "key-1"), (second, "key-2")):
            # Re-encoded at the fallback's size (WHIP_FALLBACK_HEIGHT, 720 by default).
            assert_shows_the_clients_picture_and_tone(sink, name, size=(1280, 720))
            content = read_sink(sink.recording(name))
            assert content.profile == "High"  # our libx264 fallback, not the client's VP8
            assert not any(d in SENT_NALS for d in content.nal_digests)
    log = whip_node.whip.output()
    assert "1 session(s) ended cleanly" in log
    assert "via studio" in log
    assert token not in log
    assert key not in log
