"""Finishing a recording: the FLV parts of every recorder start become one MP4 (moov first)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from accounts.models import User
from recordings.actions import finalize_recording
from recordings.models import Recording, storage_used
from recordings.remux import (
    JOIN_GAP_SECONDS,
    PartTimes,
    build_clean_command,
    build_remux_command,
    concat_list,
    join_durations,
    parse_duration,
    parse_packet_times,
)
from streaming.models import StreamSession
from tests.ffmpeg_commands import build_test_pattern_command
from tests.rtmp_stack import FFMPEG, probe_file

pytestmark = pytest.mark.django_db


def write_part(path: Path, seconds: float) -> None:
    """A few seconds of test pattern + tone as FLV, faster than real time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [a for a in build_test_pattern_command(str(path), duration=seconds) if a != "-re"]
    subprocess.run(argv, check=True, timeout=60, capture_output=True)


def write_b_frame_part(path: Path) -> None:
    """As OBS sends by default (x264 with B-frames: the first DTS precedes the first PTS), and with
    the video ending before the audio, as a recorder killed mid-stream may leave it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lavfi = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000",
    ]
    codecs = ["-c:v", "libx264", "-g", "30", "-bf", "2", "-vf", "trim=0:1.8", "-c:a", "aac"]
    argv = [
        "ffmpeg",
        "-v",
        "error",
        *lavfi,
        "-t",
        "2",
        "-map",
        "0:v",
        "-map",
        "1:a",
        *codecs,
        "-f",
        "flv",
        str(path),
    ]
    subprocess.run(argv, check=True, timeout=60, capture_output=True)


def recording_for(user: User, *, session_state: str = StreamSession.State.ENDED) -> Recording:
    session = StreamSession.objects.create(
        user=user,
        node="n",
        stream_name=StreamSession.new_stream_name(),
        quality_ceiling="720p",
        state=session_state,
        desired=StreamSession.Desired.STOPPED
        if session_state == StreamSession.State.ENDED
        else StreamSession.Desired.LIVE,
    )
    return Recording.objects.create(user=user, session=session)


def test_two_parts_become_one_playable_mp4_with_the_moov_atom_first(owner: User, media_root: Path) -> None:
    recording = recording_for(owner)
    parts = media_root / recording.parts_name
    write_part(parts / "0001.flv", 2)
    write_part(parts / "0002.flv", 2)

    assert finalize_recording(recording.pk)

    recording.refresh_from_db()
    assert recording.state == Recording.State.READY
    path = media_root / recording.file.name
    assert path.stat().st_size == recording.bytes == storage_used(owner.pk)
    assert 3.8 <= recording.duration.total_seconds() <= 4.5
    assert sorted(s["codec_type"] for s in probe_file(path)["streams"]) == ["audio", "video"]  # type: ignore[index]
    data = path.read_bytes()
    assert -1 < data.find(b"moov") < data.find(b"mdat")  # faststart: the index before the media
    assert not parts.exists()
    assert recording.lease_owner == ""  # the finaliser let go
    assert not finalize_recording(recording.pk)  # idempotent


def test_parts_with_b_frames_join_without_a_non_monotonic_dts(owner: User, media_root: Path) -> None:
    recording = recording_for(owner)
    parts = media_root / recording.parts_name
    write_b_frame_part(parts / "0001.flv")
    write_b_frame_part(parts / "0002.flv")

    assert finalize_recording(recording.pk)

    recording.refresh_from_db()
    assert recording.state == Recording.State.READY, recording.message
    decoded = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(media_root / recording.file.name), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert decoded.returncode == 0
    assert decoded.stderr == ""  # "non monotonically increasing dts" at the join, without the fix
    assert 3.6 <= recording.duration.total_seconds() <= 4.5


def test_packet_times_and_where_the_next_part_starts() -> None:
    text = "\n".join(
        [
            "start_time=0.046000",
            "stream_index=1|dts_time=0.046000|duration_time=0.021000",
            "stream_index=0|dts_time=0.000000|duration_time=N/A",
            "stream_index=0|dts_time=1.767000|duration_time=N/A",
            "stream_index=1|dts_time=2.030000|duration_time=0.021000",
            "stream_index=0|dts_time=N/A|duration_time=N/A",
        ]
    )
    first = parse_packet_times(text)
    assert first == PartTimes(0.046, {1: 0.046, 0: 0.0}, {1: pytest.approx(2.051), 0: 1.767})
    assert parse_packet_times("start_time=N/A\n") is None
    assert parse_packet_times("") is None
    # The next part's video begins 0.067 s before its start: it goes that much further on.
    following = PartTimes(0.067, {0: 0.0, 1: 0.067}, {0: 1.9, 1: 2.0})
    durations = join_durations([first, following])
    assert durations[0] == pytest.approx(2.051 - 0.046 + 0.067 + JOIN_GAP_SECONDS)
    assert durations[1] is None  # the last part's length places nothing
    assert join_durations([None, following]) == [None, None]
    listing = concat_list([Path("/a/1.flv"), Path("/a/2.flv")], [2.5, None])
    assert listing == "file '/a/1.flv'\nduration 2.500000\nfile '/a/2.flv'\n"


def test_nothing_written_is_a_failed_recording_that_counts_nothing(owner: User) -> None:
    recording = recording_for(owner)
    assert finalize_recording(recording.pk)
    recording.refresh_from_db()
    assert recording.state == Recording.State.FAILED
    assert recording.message == "Nothing was recorded."
    assert storage_used(owner.pk) == 0


def test_a_recording_of_a_live_session_is_not_finished_under_its_recorder(
    owner: User, media_root: Path
) -> None:
    recording = recording_for(owner, session_state=StreamSession.State.LIVE)
    write_part(media_root / recording.parts_name / "0001.flv", 1)
    assert not finalize_recording(recording.pk)
    assert Recording.objects.get(pk=recording.pk).state == Recording.State.RECORDING


def test_the_remux_commands_copy_and_move_the_index_first() -> None:
    argv = build_remux_command(Path("/x/list.txt"), Path("/x/out.mp4"), concat=True, ffmpeg="ffmpeg")
    assert argv[:2] == ["ffmpeg", "-nostdin"]
    assert argv[argv.index("-f") + 1] == "concat"
    assert argv[argv.index("-c") + 1] == "copy"
    assert argv[argv.index("-movflags") + 1] == "+faststart"
    assert argv[-3:] == ["-f", "mp4", "/x/out.mp4"]
    single = build_remux_command(Path("/x/0001.flv"), Path("/x/out.mp4"), ffmpeg="ffmpeg")
    assert "concat" not in single
    assert single[single.index("-i") + 1] == "/x/0001.flv"
    clean = build_clean_command(Path("/x/0001.flv"), Path("/x/0001.whole.flv"), ffmpeg="ffmpeg")
    assert clean[-3:] == ["-f", "flv", "/x/0001.whole.flv"]
    assert clean[clean.index("-c") + 1] == "copy"
    assert concat_list([Path("/a/it's.flv")]) == "file '/a/it'\\''s.flv'\n"
    assert parse_duration("4.021000\n") == pytest.approx(4.021)
    assert parse_duration("N/A") is None
