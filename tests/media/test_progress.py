"""streaming.progress: exact values from real ffmpeg -progress output, and junk that must not raise."""

from __future__ import annotations

import pytest

from streaming.progress import Progress, ProgressReader, parse_progress

FFMPEG_BLOCK = """frame=120
fps=29.97
stream_0_0_q=-1.0
bitrate= 512.3kbits/s
total_size=262188
out_time_us=4000000
out_time_ms=4000000
out_time=00:00:04.000000
dup_frames=0
drop_frames=0
speed=1.01x
progress=continue
""".splitlines()


def test_it_reads_every_field_of_an_ffmpeg_block() -> None:
    assert parse_progress(FFMPEG_BLOCK) == Progress(
        frame=120,
        fps=29.97,
        out_time_us=4_000_000,
        total_size=262_188,
        bitrate_kbps=512.3,
        speed=1.01,
        ended=False,
    )


def test_it_reports_the_end_block() -> None:
    assert parse_progress(["frame=5", "progress=end"]) == Progress(frame=5, ended=True)


def test_na_values_become_none() -> None:
    lines = [
        "frame=0",
        "fps=0.00",
        "bitrate=N/A",
        "total_size=N/A",
        "out_time_us=N/A",
        "speed=N/A",
        "progress=continue",
    ]
    assert parse_progress(lines) == Progress(frame=0, fps=0.0)


def test_out_time_ms_is_read_as_microseconds_when_out_time_us_is_missing() -> None:
    assert parse_progress(["out_time_ms=1500000"]).out_time_us == 1_500_000
    assert parse_progress(["out_time_us=7", "out_time_ms=9"]).out_time_us == 7


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "=",
        "==",
        "frame",
        "frame=",
        "frame=abc",
        "frame=-3",
        "fps=nan",
        "fps=inf",
        "speed=x",
        "bitrate=kbits/s",
        "\x00\xff",
        "a" * 10_000 + "=1",
        "frame=1=2",
        "[flv @ 0x5] error",
        "speed= -1x",
    ],
)
def test_junk_never_raises(junk: str) -> None:
    assert parse_progress([junk, "frame=3"]).frame == 3
    reader = ProgressReader()
    assert reader.feed(junk) is None


def test_non_strings_are_skipped() -> None:
    assert parse_progress([None, 5, b"frame=1", "frame=2"]) == Progress(frame=2)  # type: ignore[list-item]


def test_a_later_value_wins() -> None:
    assert parse_progress(["frame=1", "progress=continue", "frame=2"]).frame == 2


def test_the_reader_yields_one_progress_per_block() -> None:
    reader = ProgressReader()
    lines = [*FFMPEG_BLOCK, "frame=150", "speed=0.5x", "progress=end"]
    got = [p for p in (reader.feed(line) for line in lines) if p is not None]
    assert [p.frame for p in got] == [120, 150]
    assert got[1] == Progress(frame=150, speed=0.5, ended=True)
    assert reader.last == got[1]


def test_the_reader_drops_an_endless_line() -> None:
    reader = ProgressReader()
    assert reader.feed("frame=" + "9" * 100_000) is None
    assert reader.feed("frame=4") is None
    assert reader.feed("progress=continue") == Progress(frame=4)


def test_the_relay_block_round_trips_through_the_parser() -> None:
    block = format_progress_block(
        frame=61,
        fps=30.5,
        out_time_us=3_723_000_001,
        total_size=1234,
        bitrate_kbps=96.0,
        speed=1.0,
        ended=False,
    )
    assert "out_time=01:02:03.000001\n" in block
    assert parse_progress(block.splitlines()) == Progress(
        frame=61, fps=30.5, out_time_us=3_723_000_001, total_size=1234, bitrate_kbps=96.0, speed=1.0
    )
    ended = format_progress_block(
        frame=0, fps=0.0, out_time_us=0, total_size=0, bitrate_kbps=None, speed=None, ended=True
    )
    assert parse_progress(ended.splitlines()) == Progress(
        frame=0, fps=0.0, out_time_us=0, total_size=0, ended=True
    )


def format_progress_block(
    *,
    frame: int,
    fps: float,
    out_time_us: int,
    total_size: int,
    bitrate_kbps: float | None,
    speed: float | None,
    ended: bool,
) -> str:
    """Render one block the way ``ffmpeg -progress`` does (the relay writes these)."""
    seconds, micros = divmod(max(out_time_us, 0), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    bitrate = "N/A" if bitrate_kbps is None else f"{bitrate_kbps:.1f}kbits/s"
    speed_text = "N/A" if speed is None else f"{speed:.3g}x"
    return (
        f"frame={frame}\n"
        f"fps={fps:.2f}\n"
        f"bitrate={bitrate}\n"
        f"total_size={total_size}\n"
        f"out_time_us={out_time_us}\n"
        f"out_time_ms={out_time_us}\n"
        f"out_time={hours:02d}:{minutes:02d}:{secs:02d}.{micros:06d}\n"
        f"speed={speed_text}\n"
        f"progress={'end' if ended else 'continue'}\n"
    )
