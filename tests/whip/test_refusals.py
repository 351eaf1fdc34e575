"""What the WHIP endpoint refuses before anything is published, and how it says so."""

from __future__ import annotations

import pytest

from billing.plans import PlanName
from streaming.models import IngestKey, StreamSession
from tests.streaming.conftest import add_sink_destination, creator
from tests.whip.client import WhipClient, whip_request
from tests.whip.conftest import STUDIO_ORIGIN, WhipProcess
from whip.tokens import mint_studio_token

pytestmark = pytest.mark.django_db(transaction=True)


def offer_sdp(video_codec: str = "video/H264") -> str:
    """A real aiortc offer (never sent): the body a WHIP client would POST."""
    client = WhipClient("http://127.0.0.1:9/whip", "unused", video_codec=video_codec)
    client.thread.start()
    try:
        return client.offer()
    finally:
        client.close()


def test_a_post_without_a_usable_token_is_refused_with_a_reason(whip_alone: WhipProcess) -> None:
    offer = offer_sdp()
    missing = whip_request(whip_alone.endpoint, "POST", None, offer)
    assert missing.status == 401
    assert "Bearer" in missing.body
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = whip_request(whip_alone.endpoint, "POST", "live_notakeyofanyone", offer)
    assert wrong.status == 401
    assert "neither a valid studio token nor a stream key" in wrong.body
    assert wrong.headers["content-type"].startswith("text/plain")
    forged = whip_request(whip_alone.endpoint, "POST", "whip_eyJ1IjoxfQ.forged", offer)
    assert forged.status == 401
    assert "not valid" in forged.body
    assert "live_notakeyofanyone" not in whip_alone.output()


def test_an_expired_studio_token_is_refused(whip_alone: WhipProcess, settings: object) -> None:
    user, _ = creator("expired@example.com", PlanName.PRO)
    settings.WHIP_TOKEN_SECONDS = -1  # type: ignore[attr-defined]
    token, _ = mint_studio_token(user)
    answer = whip_request(whip_alone.endpoint, "POST", token, offer_sdp())
    assert answer.status == 401
    assert "expired" in answer.body


def test_a_regenerated_stream_key_voids_studio_tokens_minted_before(whip_alone: WhipProcess) -> None:
    user, _ = creator("regen@example.com", PlanName.PRO)
    token, _ = mint_studio_token(user)
    IngestKey.regenerate(user)
    answer = whip_request(whip_alone.endpoint, "POST", token, offer_sdp())
    assert answer.status == 401
    assert "replaced" in answer.body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("hello", "not an SDP offer"),
        ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", "no media section"),
        ("RECVONLY", "does not send"),
        ("OPUS-ONLY", "sends no video"),
        ("THEORA", "video codecs are not supported"),
    ],
)
def test_an_invalid_offer_gets_400_with_a_reason(whip_alone: WhipProcess, body: str, reason: str) -> None:
    _, key = creator("sdp@example.com", PlanName.PRO)
    offer = offer_sdp()
    if body == "RECVONLY":
        body = offer.replace("a=sendonly", "a=recvonly")
    elif body == "OPUS-ONLY":
        head, *sections = offer.split("m=")
        body = head + "".join("m=" + s for s in sections if s.startswith("audio"))
    elif body == "THEORA":
        body = offer.replace("H264/90000", "theora/90000")
    answer = whip_request(whip_alone.endpoint, "POST", key, body)
    assert answer.status == 400, answer
    assert reason in answer.body
    assert answer.headers["content-type"].startswith("text/plain")


def test_an_offer_must_be_sent_as_application_sdp(whip_alone: WhipProcess) -> None:
    _, key = creator("ctype@example.com", PlanName.PRO)
    answer = whip_request(whip_alone.endpoint, "POST", key, offer_sdp(), content_type="text/plain")
    assert answer.status == 415


def test_a_publish_the_plan_refuses_is_answered_403_with_the_plans_reason(whip_alone: WhipProcess) -> None:
    user, key = creator("free-two@example.com", PlanName.FREE)
    add_sink_destination(user, "rtmp://127.0.0.1:9/app/one", "one")
    add_sink_destination(user, "rtmp://127.0.0.1:9/app/two", "two")
    answer = whip_request(whip_alone.endpoint, "POST", key, offer_sdp())
    assert answer.status == 403
    assert "1 destination" in answer.body
    assert not StreamSession.objects.filter(user=user).exists()


def test_the_studio_origin_may_call_it_cross_origin_and_read_location(whip_alone: WhipProcess) -> None:
    preflight = whip_request(
        whip_alone.endpoint,
        "OPTIONS",
        None,
        headers={
            "Origin": STUDIO_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == STUDIO_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    refused = whip_request(
        whip_alone.endpoint, "POST", "live_nope", offer_sdp(), headers={"Origin": STUDIO_ORIGIN}
    )
    assert refused.headers["access-control-allow-origin"] == STUDIO_ORIGIN
    assert "Location" in refused.headers["access-control-expose-headers"]
    stranger = whip_request(whip_alone.endpoint, "OPTIONS", None, headers={"Origin": "https://evil.example"})
    assert stranger.status == 403
    assert "access-control-allow-origin" not in stranger.headers


def test_unknown_sessions_and_trickle_ice(whip_alone: WhipProcess) -> None:
    _, key = creator("trickle@example.com", PlanName.PRO)
    url = whip_alone.endpoint + "/sessions/nosuchsession"
    assert whip_request(url, "DELETE", key).status == 404
    patch = whip_request(url, "PATCH", key, "a=candidate:1", content_type="application/trickle-ice-sdpfrag")
    assert patch.status == 405
    assert whip_request(whip_alone.endpoint, "GET", key).status == 405
