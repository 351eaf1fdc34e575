"""ws/streams/ through the real ASGI stack (auth, origin check) and the real Redis channel layer."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import User
from config.asgi import application
from platforms.models import PlatformConnection
from streaming.models import DestinationStream, IngestKey, StreamSession
from streaming.status import push_to_user

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 3


@pytest.fixture(autouse=True)
def _a_channel_layer_per_test() -> Iterator[None]:
    """Each test runs its sockets in a new event loop (async_to_sync), but channels caches one layer
    per process, and the layer's receive locks bind to the loop that first waited on them. A receive
    cancelled as one test's loop ended left such a lock behind, and the next test failed with "Lock
    ... is bound to a different event loop". Production runs one loop per process (daphne)."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    yield
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


def cookie_for(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(cookie: bytes) -> WebsocketCommunicator:
    """A socket through the whole ASGI stack (origin check, session auth); create it in the loop."""
    return WebsocketCommunicator(
        application,
        "/ws/streams/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)],
    )


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def live_session(user: User) -> tuple[StreamSession, DestinationStream]:
    connection = PlatformConnection.objects.create(
        user=user,
        kind=PlatformConnection.Kind.CUSTOM,
        name="Sink",
        rtmp_url="rtmp://127.0.0.1:1/app",
        stream_key="secret-destination-key",
    )
    session = StreamSession.objects.create(
        user=user, node="n", stream_name=StreamSession.new_stream_name(), quality_ceiling="720p"
    )
    dest = DestinationStream.objects.create(
        session=session,
        connection=connection,
        label="Custom: Sink",
        kind="CUSTOM",
        target_url="rtmp://127.0.0.1:1/app/secret-destination-key",
    )
    return session, dest


def test_it_closes_an_anonymous_socket_with_4401(db: None) -> None:

    async def scenario() -> None:
        ws = communicator(b"")
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected
        closed = await ws.receive_output(timeout=TIMEOUT)
        assert closed == {"type": "websocket.close", "code": 4401}
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


def test_it_sends_no_session_when_the_creator_never_streamed(owner: User) -> None:
    owner_cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(owner_cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        assert await ws.receive_json_from(timeout=TIMEOUT) == {
            "type": "status",
            "session": None,
            "destinations": [],
        }
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


def test_it_sends_the_current_status_and_relays_transitions_without_any_key(owner: User) -> None:
    session, dest = live_session(owner)
    ingest_key = IngestKey.regenerate(owner).key

    owner_cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(owner_cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        first = await ws.receive_json_from(timeout=TIMEOUT)
        assert first["session"]["id"] == session.pk
        assert first["session"]["state"] == "STARTING"
        assert first["destinations"][0]["state"] == "CONNECTING"

        # A real engine transition: pushed to the owner's group after commit.
        await database_sync_to_async(dest.transition_to)(DestinationStream.State.LIVE)
        pushed = await ws.receive_from(timeout=TIMEOUT)
        message = json.loads(pushed)
        assert message["type"] == "status"
        assert message["destinations"] == [
            {
                "id": dest.pk,
                "label": "Custom: Sink",
                "state": "LIVE",
                "error_message": "",
                "viewer_count": None,
                "rendition": "copy",
            }
        ]
        for secret in (ingest_key, "secret-destination-key", session.stream_name):
            assert secret not in pushed
            assert secret not in json.dumps(first)
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


def test_it_relays_warnings_and_drops_unknown_fields_of_a_push(owner: User) -> None:
    owner_cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(owner_cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        await database_sync_to_async(push_to_user)(
            owner.pk, {"type": "stream.warning", "message": "Your stream ends in 5 minutes."}
        )
        assert await ws.receive_json_from(timeout=TIMEOUT) == {
            "type": "warning",
            "message": "Your stream ends in 5 minutes.",
        }
        await database_sync_to_async(push_to_user)(
            owner.pk,
            {
                "type": "stream.status",
                "session": {"id": 1, "state": "LIVE", "stream_key": "leak"},
                "destinations": [{"id": 2, "state": "LIVE", "target_url": "rtmp://x/leak"}],
            },
        )
        relayed = await ws.receive_from(timeout=TIMEOUT)
        assert "leak" not in relayed
        assert json.loads(relayed)["session"]["state"] == "LIVE"
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


def test_a_stranger_never_receives_the_owners_status(owner: User, stranger: User) -> None:
    _, dest = live_session(owner)

    owner_cookie = cookie_for(owner)
    stranger_cookie = cookie_for(stranger)

    async def scenario() -> None:
        theirs, mine = communicator(stranger_cookie), communicator(owner_cookie)
        assert (await theirs.connect(timeout=TIMEOUT))[0]
        assert (await mine.connect(timeout=TIMEOUT))[0]
        assert (await theirs.receive_json_from(timeout=TIMEOUT))["session"] is None
        await mine.receive_json_from(timeout=TIMEOUT)
        await database_sync_to_async(dest.transition_to)(DestinationStream.State.LIVE)
        assert (await mine.receive_json_from(timeout=TIMEOUT))["destinations"][0]["state"] == "LIVE"
        # Anything leaked to the stranger was sent before this marker, so it would arrive first.
        marker = {"type": "stream.warning", "message": "marker"}
        await database_sync_to_async(push_to_user)(stranger.pk, marker)
        assert await theirs.receive_json_from(timeout=TIMEOUT) == {"type": "warning", "message": "marker"}
        await theirs.disconnect(timeout=TIMEOUT)
        await mine.disconnect(timeout=TIMEOUT)

    run(scenario)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        "42",
        '{"type": "shutdown"}',
        '{"type": "stop"}',
        '{"type": "stop", "session": "1"}',
        '{"type": "stop", "session": true}',
        '{"type": "ping", "extra": 1}',
        '{"type": "ping"}' + " " * 2000,
    ],
)
def test_it_answers_a_bad_message_with_an_error_and_stays_open(owner: User, frame: str) -> None:
    owner_cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(owner_cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_to(text_data=frame)
        answer = await ws.receive_json_from(timeout=TIMEOUT)
        assert answer["type"] == "error"
        assert answer["message"]
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


def test_stop_over_the_socket_stops_only_the_users_own_session(owner: User, stranger: User) -> None:
    session, _ = live_session(owner)

    owner_cookie = cookie_for(owner)
    stranger_cookie = cookie_for(stranger)

    async def scenario() -> None:
        theirs = communicator(stranger_cookie)
        assert (await theirs.connect(timeout=TIMEOUT))[0]
        await theirs.receive_json_from(timeout=TIMEOUT)
        await theirs.send_json_to({"type": "stop", "session": session.pk})
        assert (await theirs.receive_json_from(timeout=TIMEOUT))["type"] == "error"
        await theirs.disconnect(timeout=TIMEOUT)
        assert (await database_sync_to_async(StreamSession.objects.get)(pk=session.pk)).desired == "LIVE"

        mine = communicator(owner_cookie)
        assert (await mine.connect(timeout=TIMEOUT))[0]
        await mine.receive_json_from(timeout=TIMEOUT)
        await mine.send_json_to({"type": "stop", "session": session.pk})
        answers = [await mine.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
        assert {"type": "stopping", "session": session.pk} in answers
        assert any(a["type"] == "status" and a["session"]["state"] == "ENDING" for a in answers)
        await mine.disconnect(timeout=TIMEOUT)

    run(scenario)
    assert StreamSession.objects.get(pk=session.pk).desired == "STOPPED"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


def test_an_idle_socket_stays_open_for_30_seconds_and_still_receives_a_push(owner: User) -> None:
    """The layer waits in 5 s BZPOPMINs: a Redis read timeout at or below that closed every socket."""
    owner_cookie = cookie_for(owner)
    held_seconds = 30

    async def scenario() -> None:
        ws = communicator(owner_cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)
        opened = time.monotonic()
        while time.monotonic() - opened < held_seconds:
            # Nothing may arrive while idle (a teardown shows here as the consumer's exception).
            assert await ws.receive_nothing(timeout=1)
            await ws.send_json_to({"type": "ping"})
            assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
        await database_sync_to_async(push_to_user)(
            owner.pk, {"type": "stream.warning", "message": "still here"}
        )
        assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "warning", "message": "still here"}
        assert not ws.future.done()  # the same consumer instance throughout: no reconnect
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)
