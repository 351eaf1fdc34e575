"""End to end: FFmpeg → nginx-rtmp ingest → media worker → recorder → an MP4 on disk, under the quota."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from accounts.models import User
from billing.plans import PlanName, limits_of
from recordings.actions import set_recording_enabled
from recordings.models import Recording, recorder_tag, storage_used
from recordings.parts import parts_of
from recordings.tasks import reconcile_recordings
from streaming import actions
from streaming.models import Encoder, StreamEvent, StreamSession
from tests.recordings.conftest import fill_storage
from tests.rtmp_stack import FFMPEG, Publisher, SinkServer, probe_file
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
SINK_KEY = "sink-key"
# The recorder's FLV grows in 256 KiB writes: more than this on disk is at least one of them,
# ~5 s of the publisher's ~45 kB/s pattern.
ONE_WRITE = 50_000


def process_argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def relay_running() -> bool:
    """A destination relay (not the recorder, whose output is a .flv file) of this checkout runs."""
    running = []
    for pid in relay_pids():
        try:
            running.append(not process_argv(pid)[-1].endswith(".flv"))
        except OSError:
            continue  # gone since it was listed
    return any(running)


def recording_of(session: StreamSession | None) -> Recording | None:
    return Recording.objects.filter(session=session).first() if session else None


@contextmanager
def live_with_recording_on(
    engine: Engine, plan: PlanName, leave_free: int | None = None
) -> Iterator[tuple[User, SinkServer, StreamSession]]:
    """A creator who records, (optionally) with only ``leave_free`` bytes of storage left, publishing
    to one sink destination; yields once that destination is LIVE, stops the session at the end."""
    node = engine.add_node(plan.name[0].lower())
    user, key = creator(f"rec-{plan.name.lower()}@example.com", plan)
    if leave_free is not None:
        fill_storage(user, plan, leave_free)
    set_recording_enabled(user, True)
    with SinkServer() as sink:
        add_sink_destination(user, sink.url(SINK_KEY), "only")
        with Publisher(node.ingest.url(key), keyframe_seconds=1):
            wait_for(lambda: states(user) == {"only": "LIVE"}, 45, "the destination LIVE")
            session = session_of(user)
            assert session is not None
            yield user, sink, session
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "session ENDED")
            wait_for(lambda: not relay_pids(), 10, "every relay and recorder gone")


def test_a_recorded_stream_becomes_a_playable_mp4_counted_against_the_quota(
    engine: Engine, media_root: Path
) -> None:
    with live_with_recording_on(engine, PlanName.PRO) as (user, _sink, session):
        wait_for(lambda: (r := recording_of(session)) is not None and r.bytes > ONE_WRITE, 30, "bytes")
    wait_for(lambda: recording_of(session).state != Recording.State.RECORDING, 40, "finalised")
    recording = recording_of(session)
    assert recording.state == Recording.State.READY, recording.message
    path = media_root / recording.file.name
    assert recording.file.name == f"recordings/{user.pk}/{session.pk}.mp4"
    assert path.stat().st_size == recording.bytes > 100_000
    assert recording.duration is not None
    assert recording.duration.total_seconds() >= 3
    info = probe_file(path)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]  # type: ignore[index]
    assert not (media_root / f"recordings/{user.pk}/{session.pk}.parts").exists()
    assert storage_used(user.pk) == recording.bytes


def test_a_free_recording_is_made_from_the_branded_rendition(engine: Engine, media_root: Path) -> None:
    with live_with_recording_on(engine, PlanName.FREE) as (_user, _sink, session):
        wait_for(lambda: (r := recording_of(session)) is not None and r.bytes > ONE_WRITE, 40, "bytes")
        argvs = [process_argv(pid) for pid in relay_pids()]
        recorder = next(argv for argv in argvs if argv[-1].endswith(".flv"))
        # Read from a branded rendition, never from the source: the one planned at publish time
        # (this creator's first stream: the plan's ceiling), kept when check_source re-plans the
        # destinations, so the recording is one size from its first frame.
        first = Encoder.objects.filter(session=session).order_by("pk").first()
        assert first is not None
        assert first.rendition.endswith("-branded")
        rendition = f"/rendition/{session.stream_name}-{first.rendition}"
        recorded = recorder[recorder.index("-i") + 1]
        assert recorded.endswith(f"{rendition}?reader={recorder_tag(recording_of(session).pk)}"), recorder
    wait_for(lambda: recording_of(session).state != Recording.State.RECORDING, 40, "finalised")
    recording = recording_of(session)
    assert recording.state == Recording.State.READY, recording.message
    video = next(
        s for s in probe_file(media_root / recording.file.name)["streams"] if s["codec_type"] == "video"
    )
    # Our encoder's x264 (High profile), not the publisher's Constrained Baseline source.
    assert (video["profile"], video["width"], video["height"]) == ("High", 320, 180)


def test_at_quota_the_stream_goes_live_but_is_not_recorded(engine: Engine) -> None:
    with live_with_recording_on(engine, PlanName.FREE, leave_free=0) as (user, sink, session):
        refusal = StreamEvent.objects.filter(session=session, message__contains="not being recorded")
        wait_for(refusal.exists, 10, "the refusal in the session's events")
        wait_for(lambda: sink.decoded_frames(SINK_KEY) > 10, 20, "frames at the destination")
        assert session_of(user).state == StreamSession.State.LIVE
        assert recording_of(session) is None
        # The branding encoder and the relay, no recorder (once the encoder guessed at publish,
        # 720p for this first session, has made way for the 360p one the probed source needs).
        wait_for(lambda: len(relay_pids()) == 2, 15, "encoder + relay only")
    event = refusal.get()
    assert "Free plan stores up to 1 GB" in event.message
    assert "Upgrade to Pro" in event.message
    assert user.notices.filter(message__contains="Upgrade to Pro", link_to_pricing=True).exists()


def test_a_recording_reaching_the_quota_is_stopped_at_the_limit_and_kept(
    engine: Engine, media_root: Path
) -> None:
    room = 400_000  # ~9 s of the test pattern (~45 kB/s)
    with live_with_recording_on(engine, PlanName.FREE, leave_free=room) as (user, _sink, session):
        wait_for(lambda: recording_of(session) is not None, 10, "a recording")
        wait_for(lambda: recording_of(session).state != Recording.State.RECORDING, 40, "stopped")
        # The stream itself goes on.
        assert session_of(user).state == StreamSession.State.LIVE
        assert states(user) == {"only": "LIVE"}
    recording = recording_of(session)
    assert recording.state == Recording.State.READY
    assert "storage full" in recording.message
    assert "Upgrade to Pro" in recording.message
    # Stopped at the limit: the file grows in FFmpeg's buffered writes, checked every 0.5 s, so
    # at most about half a second's writes past it (the MP4 is a few % smaller than the FLV it was made from).
    assert room * 0.9 <= recording.bytes <= room + 300_000
    assert (media_root / recording.file.name).exists()
    assert StreamEvent.objects.filter(session=session, message__contains="storage full").exists()
    assert storage_used(user.pk) >= limits_of(PlanName.FREE).storage_bytes - room


def test_a_recorder_whose_worker_is_killed_is_restarted_and_both_parts_end_in_one_mp4(
    engine: Engine, media_root: Path
) -> None:
    with live_with_recording_on(engine, PlanName.PRO) as (_user, _sink, session):
        node = engine.nodes[-1]
        wait_for(lambda: (r := recording_of(session)) is not None and r.bytes > ONE_WRITE, 30, "bytes")
        assert node.worker.proc is not None
        os.kill(node.worker.proc.pid, signal.SIGKILL)
        node.worker.proc.wait(timeout=10)
        node.worker.proc = None
        wait_for(lambda: not relay_pids(), 10, "the killed worker's relay and recorder gone")
        node.worker.start()
        # beat's reconcilers, run here by hand: the destination's and the recording's.
        from streaming.tasks import reconcile

        wait_for(lambda: reconcile_recordings()["requeued"] >= 1, 20, "the recorder re-queued")
        # The row still says LIVE from before the kill: the relay is back when a new one runs.
        wait_for(lambda: reconcile()["requeued"] >= 1 or relay_running(), 20, "the relay re-queued")
        wait_for(relay_running, 30, "relay back")
        wait_for(lambda: len(parts_of(recording_of(session))) == 2, 30, "a second part")
        second = parts_of(recording_of(session))[1]
        wait_for(lambda: second.stat().st_size > ONE_WRITE, 30, "a write of the second part")
    wait_for(lambda: recording_of(session).state != Recording.State.RECORDING, 40, "finalised")
    recording = recording_of(session)
    assert recording.state == Recording.State.READY, recording.message
    # Both parts are in it, one after the other: the killed recorder's part holds at least the one
    # 256 KiB write seen above (~5 s of the ~45 kB/s pattern), the second at least 3 s.
    assert recording.duration.total_seconds() >= 7
    path = media_root / recording.file.name
    info = probe_file(path)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]  # type: ignore[index]
    decoded = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert decoded.returncode == 0
    assert decoded.stderr == ""  # no damaged frame at the join


STREAM_SECONDS = 15.0


# Seconds a recording may be short of its stream. PRO records the source: only FLV/MP4 rounding.
# FREE records its branded rendition, whose recorder is not held by on_publish (the rendition
# app has no on_play): measured 13.7 s of 15 s (docs/decisions.md), 10.5 s before.
@pytest.mark.parametrize("plan", [PlanName.PRO, PlanName.FREE])
def test_a_recording_is_as_long_as_the_stream(engine: Engine, media_root: Path, plan: PlanName) -> None:
    """It starts with the stream: the recorder (PRO: the source; FREE: the branded rendition) is
    connected before the publish (FREE: its encoder's publish) is answered, so it gets the first
    frame, on a busy machine too."""
    node = engine.add_node(plan.name[0].lower())
    user, key = creator(f"length-{plan.name.lower()}@example.com", plan)
    set_recording_enabled(user, True)
    with SinkServer() as sink:
        add_sink_destination(user, sink.url(SINK_KEY), "only")
        with Publisher(node.ingest.url(key), duration=STREAM_SECONDS, keyframe_seconds=1) as publisher:
            wait_for(lambda: not publisher.running(), STREAM_SECONDS + 30, "the publisher to finish")
        session = session_of(user)
        assert session is not None
        actions.stop_session(session.pk)
        wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 20, "session ENDED")  # type: ignore[union-attr]
    wait_for(lambda: recording_of(session).state != Recording.State.RECORDING, 40, "finalised")  # type: ignore[union-attr]
    recording = recording_of(session)
    assert recording is not None
    assert recording.state == Recording.State.READY, recording.message
    probed = float(probe_file(media_root / recording.file.name)["format"]["duration"])  # type: ignore[index]
    print(f"{plan.name}: a {STREAM_SECONDS:g} s stream gave a {probed:.3f} s recording")
    assert abs(probed - STREAM_SECONDS) <= 0.5, probed
