"""streaming.relay.RelayWatch on FFmpeg 5.1's own stderr (lines captured from real runs).

The end-to-end tests in test_relay.py run the same code on live processes; these pin down each
decision, including the ones a live test cannot provoke on demand (a publisher that announced
video nobody sent, a listing split across reads).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.relay import SETTLE_SECONDS, InputReport, RelayJob, RelayWatch, Verdict, parse_log_line

INPUT = "rtmp://127.0.0.1:1935/live/s-0123?reader=d7"
OUTPUT = "rtmp://127.0.0.1:5000/app/KEY-SECRET-123"
OUT = "rtmp://127.0.0.1:5000/app"

LISTING = [
    "[info] Input #0, flv, from 'rtmp://127.0.0.1:1935/live/s-0123?reader=d7':",
    "[info]   Metadata:",
    "[info]     Server          : NGINX RTMP (github.com/arut/nginx-rtmp-module)",
    "[info]     displayWidth    : 1280",
    "[info]     displayHeight   : 720",
    "[info]     fps             : 30",
    "[info]   Duration: 00:00:00.00, start: 1.344000, bitrate: N/A",
    "[info]   Stream #0:0: Audio: aac (LC), 48000 Hz, stereo, fltp, 95 kb/s",
    "[info]   Stream #0:1: Video: h264 (High), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9],"
    " 2999 kb/s, 29.97 fps, 29.97 tbr, 1k tbn",
]
OPENED = [
    f"[info] Output #0, flv, to '{OUT}':",
    "[info] Stream mapping:",
    "[info]   Stream #0:1 -> #0:0 (copy)",
]


def watch(**fields: object) -> RelayWatch:
    return RelayWatch(RelayJob(INPUT, OUTPUT, **fields))  # type: ignore[arg-type]


def feed(w: RelayWatch, lines: list[str], at: float = 0.0) -> list[Verdict]:
    return [v for line in lines if (v := w.feed(line + "\n", at)) is not None]


def test_a_source_within_the_ceiling_passes_at_its_video_line() -> None:
    w = watch(max_video=[1280, 720, 30])
    verdicts = feed(w, LISTING)
    assert verdicts == [Verdict(True)]
    assert w.report.video == (1280, 720, 29.97)
    assert w.report.audio


@pytest.mark.parametrize(
    ("ceiling", "why"),
    [
        ((854, 480, 30), "the source is 1280x720, above 854x480"),
        ((1280, 720, 25), "the source runs at 29.97 fps, above 25"),
    ],
)
def test_a_source_above_the_ceiling_is_refused(ceiling: tuple[int, int, int], why: str) -> None:
    w = watch(max_video=list(ceiling))
    assert feed(w, LISTING) == [Verdict(False, "input_over_ceiling", why)]
    assert w.failure(None) == ("input_over_ceiling", why)


def test_portrait_fits_a_landscape_box() -> None:
    w = watch(max_video=[1280, 720, 30])
    lines = [
        *LISTING[:-1],
        "[info]   Stream #0:1: Video: h264 (High), yuv420p, 720x1280, 30 fps, 30 tbr, 1k tbn",
    ]
    assert feed(w, lines) == [Verdict(True)]


def test_audio_only_passes_after_the_listing_settles() -> None:
    w = watch()
    audio_only = [line for line in LISTING if "display" not in line and "Video" not in line]
    assert feed(w, audio_only, at=10.0) == []
    assert w.settle(10.0 + SETTLE_SECONDS / 2) is None  # maybe more streams to come
    assert w.settle(10.0 + SETTLE_SECONDS) == Verdict(True)


def test_announced_video_that_never_came_is_input_unavailable() -> None:
    w = watch()
    assert feed(w, LISTING[:-1], at=10.0) == []
    verdict = w.settle(11.0)
    assert verdict == Verdict(False, "input_unavailable", "no video keyframe within the probing window")


def test_no_stream_at_all_is_input_unavailable() -> None:
    w = watch()
    feed(w, [line for line in LISTING[:7] if "display" not in line], at=0.0)
    assert w.settle(1.0) == Verdict(False, "input_unavailable", "the input has no audio or video stream")


def test_an_input_that_never_opens_is_input_unavailable() -> None:
    w = watch()
    feed(w, [f"[error] {INPUT}: Input/output error"])
    category, message = w.failure(1)
    assert category == "input_unavailable"
    assert message.startswith("cannot open the input (rtmp://127.0.0.1:1935/live/")
    assert message.endswith("Input/output error)")


def test_bad_arguments_before_the_input_are_internal() -> None:
    w = watch()
    feed(
        w,
        [
            "[error] Unrecognized option 'bogus'.",
            "[fatal] Error splitting the argument list: Option not found",
        ],
    )
    category, message = w.failure(1)
    assert category == "internal"
    assert "Option not found" in message


def test_a_closed_port_is_output_refused() -> None:
    w = watch()
    feed(w, LISTING)
    feed(
        w,
        [
            "[tcp @ 0x55e8d576fe40] [error] Connection to tcp://127.0.0.1:5000?tcp_nodelay=1 failed: "
            "Connection refused",
            "[rtmp @ 0x55e8d5770240] [error] Cannot open connection tcp://127.0.0.1:5000?tcp_nodelay=1",
            f"[error] {OUT}: Connection refused",
        ],
    )
    assert w.failure(1)[0] == "output_refused"


def test_a_refused_publish_is_output_rejected_and_the_key_is_redacted() -> None:
    w = watch()
    feed(w, LISTING)
    feed(
        w,
        [
            "[rtmp @ 0x5] [error] Server error: Unknown stream KEY-SECRET-123",
            f"[error] {OUT}: Input/output error",
        ],
    )
    category, message = w.failure(1)
    assert category == "output_rejected"
    assert "KEY-SECRET-123" not in message


@pytest.mark.parametrize(("after", "category"), [(1.0, "output_rejected"), (30.0, "output_broken")])
def test_a_write_failure_is_a_refusal_early_and_a_break_later(after: float, category: str) -> None:
    w = watch()
    feed(w, LISTING, at=0.0)
    feed(w, OPENED, at=0.5)
    feed(
        w,
        [
            "[error] av_interleaved_write_frame(): Broken pipe",
            f"[error] Error writing trailer of {OUT}: Broken pipe",
            "[info] Conversion failed!",
        ],
        at=0.5 + after,
    )
    assert w.failure(1)[0] == category


def test_the_input_ending_is_input_ended() -> None:
    w = watch()
    feed(w, LISTING, at=0.0)
    feed(w, OPENED, at=0.5)
    feed(w, [f"[error] {INPUT}: Input/output error", "[info] video:79kB audio:35kB"], at=9.0)
    assert w.failure(0)[0] == "input_ended"
    # A plain end of stream prints nothing and exits 0.
    w = watch()
    feed(w, LISTING + OPENED)
    assert w.failure(0)[0] == "input_ended"


def test_the_first_side_to_fail_is_the_one_reported() -> None:
    w = watch()
    feed(w, LISTING + OPENED, at=0.0)
    feed(
        w,
        [f"[error] {INPUT}: Input/output error", f"[error] Error writing trailer of {OUT}: Broken pipe"],
        at=60,
    )
    assert w.failure(1)[0] == "input_ended"


def test_the_recorder_has_no_key_and_names_its_file() -> None:
    w = RelayWatch(RelayJob(INPUT, "/srv/rec/0001.flv"))
    feed(w, [*LISTING, "[info] Output #0, flv, to '/srv/rec/0001.flv':"], at=0.0)
    feed(w, ["[error] av_interleaved_write_frame(): No space left on device"], at=60)
    assert w.failure(1) == (
        "output_broken",
        "writing to the destination failed (av_interleaved_write_frame(): No space left on device)",
    )


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("[info] Input #0, flv", ("info", "Input #0, flv")),
        ("[tcp @ 0x1] [error] Connection refused\n", ("error", "Connection refused")),
        ("frame=1", None),
        ("[nonsense] x", None),
    ],
)
def test_parse_log_line(line: str, parsed: tuple[str, str] | None) -> None:
    assert parse_log_line(line) == parsed


KEY = "KEY-SECRET-123"
# Junk around the destination's key, in the places FFmpeg names it: alone, in the output URL, in a
# server's refusal. The redaction must hold whatever surrounds it and at whatever level it is logged.
lines_with_the_key = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["", "[info] ", "[error] ", "[rtmp @ 0x5] [error] ", "[warning] "]),
    st.text(max_size=80),
    st.sampled_from([KEY, OUTPUT, f"'{OUTPUT}'", f"Server error: Unknown stream {KEY}", f"{OUTPUT}: "]),
    st.text(max_size=80),
)
junk_and_the_key = st.lists(st.text(max_size=200) | lines_with_the_key, max_size=40).filter(
    lambda lines: any(KEY in line for line in lines)
)


@given(junk_and_the_key, st.floats(0, 100), st.none() | st.integers(-1, 255))
def test_the_watch_never_raises_on_junk(lines: list[str], at: float, code: int | None) -> None:
    w = watch(max_video=[1280, 720, 30])
    for line in lines:
        w.feed(line, at)
        w.feed("[info] " + line, at)
    w.settle(at + 1)
    category, message = w.failure(code)
    assert category in (
        "input_unavailable",
        "input_ended",
        "output_rejected",
        "output_refused",
        "output_broken",
        "input_over_ceiling",
        "internal",
    )
    assert KEY not in message


@given(st.text(max_size=300))
def test_the_input_report_never_raises(message: str) -> None:
    report = InputReport()
    report.feed(message)
    report.feed("  Stream #0:0: Video: " + message)
    report.over((1280, 720, 30))
