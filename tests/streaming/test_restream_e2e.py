"""End to end on loopback: FFmpeg → nginx-rtmp ingest → web callbacks → media worker → relays → sinks."""

from __future__ import annotations

import os
import signal

import pytest

from billing.plans import PlanName
from streaming import actions
from streaming.models import DestinationStream, Encoder, StreamEvent, StreamSession
from tests.rtmp_stack import Publisher, SinkServer, probe_file
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


def test_one_publish_reaches_three_sinks_and_stop_ends_every_process(engine: Engine) -> None:
    node = engine.add_node("a")
    user, key = creator("three@example.com", PlanName.PRO)
    with SinkServer() as yt, SinkServer() as tw, SinkServer() as custom:
        sinks = {"yt": yt, "tw": tw, "custom": custom}
        for name, sink in sinks.items():
            add_sink_destination(user, sink.url(f"key-{name}"), name)
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: set(states(user).values()) == {"LIVE"} and len(states(user)) == 3, 40, "3 LIVE")
            session = session_of(user)
            assert session is not None
            assert session.state == StreamSession.State.LIVE
            assert session.node == node.name
            # PRO removes branding and the 320x180 source fits: copies, no encoder.
            assert not Encoder.objects.filter(session=session).exists()
            assert len(relay_pids()) == 3
            for name, sink in sinks.items():
                key = f"key-{name}"
                wait_for(lambda sink=sink, key=key: sink.decoded_frames(key) > 30, 20, f"frames at {name}")
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "session ENDED")
            assert set(states(user).values()) == {"DISCONNECTED"}
            wait_for(lambda: not relay_pids(), 10, "every relay gone")
        for name, sink in sinks.items():
            info = probe_file(sink.recording(f"key-{name}"))
            kinds = sorted(s["codec_type"] for s in info["streams"])  # type: ignore[index]
            assert kinds == ["audio", "video"], name
    assert (
        StreamEvent.objects.filter(session=session, to_state="LIVE", destination__isnull=False).count() == 3
    )


def test_free_plan_burns_in_branding_through_one_encoder(engine: Engine) -> None:
    node = engine.add_node("b")
    user, key = creator("free@example.com", PlanName.FREE)
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("free-key"), "only")
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: states(user) == {"only": "LIVE"}, 45, "the FREE destination LIVE")
            session = session_of(user)
            # Planned at publish on a guess (a first session: the 720p ceiling), corrected once
            # the 320x180 source was probed: one encoder runs, the guessed one was stopped.
            wait_for(lambda: session_of(user).source_checked, 20, "source checked")
            running = Encoder.objects.filter(session=session, desired="RUN")
            assert [e.rendition for e in running] == ["360p-branded"]
            wait_for(
                lambda: (
                    set(
                        Encoder.objects.filter(session=session, desired="STOP").values_list(
                            "state", flat=True
                        )
                    )
                    <= {Encoder.State.STOPPED}
                ),
                20,
                "the guessed encoder stopped",
            )
            wait_for(lambda: states(user) == {"only": "LIVE"}, 30, "LIVE on the 360p rendition")
            assert DestinationStream.objects.get(session=session).rendition == "360p-branded"
            wait_for(lambda: sink.decoded_frames("free-key") > 10, 20, "frames at the destination")
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "session ENDED")
            wait_for(lambda: not relay_pids(), 10, "relay and encoder gone")


def test_a_killed_encoder_is_restarted_and_its_destination_streams_again(engine: Engine) -> None:
    node = engine.add_node("k")
    user, key = creator("free-encoder@example.com", PlanName.FREE)
    with SinkServer() as sink:
        add_sink_destination(user, sink.url("enc-key"), "only")
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: (s := session_of(user)) is not None and s.source_checked, 30, "source checked")
            wait_for(lambda: states(user) == {"only": "LIVE"}, 30, "LIVE on the rendition")
            session = session_of(user)
            encoder = Encoder.objects.get(session=session, desired="RUN")
            wait_for(lambda: Encoder.objects.get(pk=encoder.pk).state == Encoder.State.RUNNING, 20, "RUNNING")
            wait_for(
                lambda: (
                    (d := DestinationStream.objects.get(session=session)).rendition == encoder.rendition
                    and d.state == DestinationStream.State.LIVE
                ),
                20,
                "the relay LIVE on that encoder's rendition",
            )
            wait_for(lambda: sink.decoded_frames("enc-key") > 30, 20, "frames from the first encoder")
            os.kill(Encoder.objects.get(pk=encoder.pk).process_id, signal.SIGKILL)
            # Its supervisor restarts it at once; the destination's relay waits on the rendition's
            # name (idle_streams) and carries on with the new encoder's stream: no new connection
            # to the platform, no retry spent.
            wait_for(
                lambda: (
                    (e := Encoder.objects.get(pk=encoder.pk)).attempts >= 1
                    and e.state == Encoder.State.RUNNING
                ),
                30,
                "the encoder running again",
            )
            size = sink.recording("enc-key").stat().st_size
            wait_for(lambda: sink.recording("enc-key").stat().st_size > size + 20_000, 15, "frames again")
            dest = DestinationStream.objects.get(session=session)
            assert (dest.state, dest.attempts) == (DestinationStream.State.LIVE, 0)
            assert sink.decoded_frames("enc-key") > 60
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "session ENDED")
            wait_for(lambda: not relay_pids(), 10, "relay and encoder gone")
