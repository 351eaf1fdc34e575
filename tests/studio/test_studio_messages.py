"""The browser studio's messages (go_live, audio_settings) on ws/streams/, through the real ASGI stack
(origin check, session auth) and the real Redis channel layer: valid ones act, malformed ones get an
error reply and the socket stays up."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from accounts.models import User
from streaming.models import IngestKey
from studio.models import StudioSettings
from tests.studio.test_consumer import TIMEOUT, communicator, cookie_for, live_session, run

pytestmark = pytest.mark.django_db(transaction=True)

MALFORMED = [
    {"type": "go_live"},
    {"type": "go_live", "title": 5},
    {"type": "go_live", "title": "x" * 201},
    {"type": "go_live", "title": "line\nbreak"},
    {"type": "go_live", "title": "ok", "extra": 1},
    {"type": "audio_settings", "auto_gain_control": True},
    {"type": "audio_settings", "auto_gain_control": "yes", "sample_rate": 48000},
    {"type": "audio_settings", "auto_gain_control": True, "sample_rate": 22050},
    {"type": "audio_settings", "auto_gain_control": True, "sample_rate": True},
    {"type": "audio_settings", "auto_gain_control": True, "sample_rate": "48000"},
    {"type": "no_such_thing"},
    {"type": ["go_live"]},
    ["go_live"],
    "go_live",
    None,
]


def test_malformed_studio_messages_get_an_error_and_change_nothing(owner: User) -> None:
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        for message in MALFORMED:
            await ws.send_json_to(message)
            reply = await ws.receive_json_from(timeout=TIMEOUT)
            assert reply["type"] == "error", message
            assert reply["message"]
        await ws.send_json_to({"type": "ping"})  # still up after all of them
        assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
        await ws.disconnect()

    run(scenario)
    assert not StudioSettings.objects.filter(user=owner).exists()


@pytest.mark.parametrize("agc", [True, False])
@pytest.mark.parametrize("rate", [48000, 44100])
def test_audio_settings_are_stored_and_answered_with_the_fixed_constraints(
    owner: User, agc: bool, rate: int
) -> None:
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_json_to({"type": "audio_settings", "auto_gain_control": agc, "sample_rate": rate})
        reply = await ws.receive_json_from(timeout=TIMEOUT)
        assert reply == {
            "type": "audio_settings",
            "constraints": {
                "noiseSuppression": True,
                "echoCancellation": True,
                "autoGainControl": agc,
                "sampleRate": rate,
            },
        }
        await ws.disconnect()

    run(scenario)
    stored = StudioSettings.objects.get(user=owner)
    assert (stored.auto_gain_control, stored.sample_rate) == (agc, rate)


def test_go_live_is_refused_while_a_stream_runs(owner: User) -> None:
    live_session(owner)
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_json_to({"type": "go_live", "title": "Second show"})
        reply = await ws.receive_json_from(timeout=TIMEOUT)
        assert reply["type"] == "error"
        assert "already live" in reply["message"]
        await ws.disconnect()

    run(scenario)
    assert StudioSettings.next_title_of(owner.pk) == ""


def test_go_live_answers_the_whip_url_and_a_token_of_this_user_never_the_key(owner: User) -> None:
    from whip.tokens import verify_studio_token

    key = IngestKey.for_user(owner).key
    cookie = cookie_for(owner)
    replies = []

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_json_to({"type": "go_live", "title": "  Friday show  "})
        replies.append(await ws.receive_from(timeout=TIMEOUT))
        await ws.disconnect()

    run(scenario)
    reply = json.loads(replies[0])
    assert set(reply) == {"type", "url", "token", "expires_at"}
    assert reply["type"] == "whip"
    assert reply["url"] == settings.WHIP_PUBLIC_URL
    assert verify_studio_token(reply["token"]).user_id == owner.pk
    assert key not in replies[0]
    assert StudioSettings.next_title_of(owner.pk) == "Friday show"


def test_go_live_without_a_whip_endpoint_says_to_use_obs(owner: User, settings: object) -> None:
    settings.WHIP_PUBLIC_URL = ""  # type: ignore[attr-defined]
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_json_to({"type": "go_live", "title": "Friday show"})
        reply = await ws.receive_json_from(timeout=TIMEOUT)
        assert reply["type"] == "error"
        assert "OBS" in reply["message"]
        await ws.disconnect()

    run(scenario)


def test_the_ingest_health_reaches_the_page_through_an_allow_list() -> None:
    from streaming.consumers import public_status

    payload = {
        "session": {
            "id": 1,
            "state": "LIVE",
            "ingest": {
                "width": 1280,
                "height": 720,
                "fps": 30.0,
                "video_codec": "h264",
                "url": "rtmp://x/key",
            },
        },
        "destinations": [],
    }
    session = public_status(payload)["session"]
    assert session["ingest"] == {
        "width": 1280,
        "height": 720,
        "fps": 30.0,
        "video_codec": "h264",
        "audio_codec": None,
    }
    assert public_status({"session": {"id": 1, "ingest": "junk"}})["session"]["ingest"] is None


def test_the_socket_outlives_the_channel_layers_blocking_read(owner: User) -> None:
    """redis-py 8's 5 s socket timeout tore every consumer down after ~5 s idle (channels_redis#422)."""
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        assert await ws.receive_nothing(timeout=8, interval=0.5)  # idle past the layer's 5 s read
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
        await ws.disconnect()

    run(scenario)
