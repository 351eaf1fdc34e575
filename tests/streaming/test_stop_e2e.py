"""Stop disconnects the publisher at once (nginx-rtmp's control module on the session's node),
so OBS sees the stream end and the session is ENDED without waiting for nginx's next on_update."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from billing.plans import PlanName
from streaming.models import StreamSession
from tests.rtmp_stack import Publisher, SinkServer
from tests.streaming.conftest import (
    Engine,
    add_sink_destination,
    creator,
    relay_pids,
    session_of,
    states,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
UPDATE_SECONDS = 30  # as in production: the publisher would otherwise be dropped only after this


def test_stop_disconnects_the_publisher_and_ends_the_session_before_nginxs_next_update(
    engine: Engine,
) -> None:
    node = engine.add_node("s", update_seconds=UPDATE_SECONDS)
    user, key = creator("stopper@example.com", PlanName.PRO)
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("s-key"), "only")
        with Publisher(node.ingest.url(key), keyframe_seconds=1) as publisher:
            wait_for(lambda: states(user) == {"only": "LIVE"}, 40, "LIVE")
            session = session_of(user)
            assert session is not None
            stopped_at = time.monotonic()
            call_command("streams", stop=session.pk)  # as the studio button and the admin action do
            # Bounded well below UPDATE_SECONDS: only the control module can have cut OBS this soon.
            wait_for(lambda: not publisher.running(), UPDATE_SECONDS / 2, "the publisher to be disconnected")
            dropped_after = time.monotonic() - stopped_at
            wait_for(
                lambda: session_of(user).state == StreamSession.State.ENDED,  # type: ignore[union-attr]
                UPDATE_SECONDS / 2,
                "ENDED",
            )
            ended_after = time.monotonic() - stopped_at
    assert time.monotonic() - publisher.started_at < 120
    assert states(user) == {"only": "DISCONNECTED"}
    wait_for(lambda: not relay_pids(), 10, "no relay left")
    print(f"publisher disconnected {dropped_after:.2f} s, ENDED {ended_after:.2f} s after Stop")
