"""FFmpeg argv that only tests and benchmarks run: a bare copy relay (the benchmark's reference)
and a publisher standing in for OBS. Production builders live in ``streaming.ffmpeg``."""

from __future__ import annotations

from streaming.ffmpeg import AUDIO_SAMPLE_RATE, KEYFRAME_SECONDS, LOW_PROBE_INPUT


def build_copy_relay_command(
    input_url: str, output_url: str, *, ffmpeg: str = "ffmpeg", low_probe: bool = True
) -> list[str]:
    """argv of a bare ``ffmpeg -c copy`` relay: the benchmark's reference, never used for a
    destination with a key (its URL would be in argv)."""
    probe = list(LOW_PROBE_INPUT) if low_probe else []
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
        *probe,
        "-i",
        input_url,
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "flv",
        "-flvflags",
        "no_duration_filesize",
        output_url,
    ]


def build_test_pattern_command(
    output_url: str,
    *,
    width: int = 320,
    height: int = 180,
    fps: int = 30,
    duration: float | None = None,
    video_kbps: int = 400,
    keyframe_seconds: float = KEYFRAME_SECONDS,
    ffmpeg: str = "ffmpeg",
    progress: bool = False,
) -> list[str]:
    """argv of a publisher standing in for OBS: testsrc2 + a 1 kHz tone at real-time speed
    (``-re``), x264 + AAC into FLV. Runs ``duration`` seconds, or until SIGINT when None."""
    gop = str(max(1, round(keyframe_seconds * fps)))
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats"]
    if progress:
        argv += ["-progress", "pipe:1"]
    argv += [
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate={fps}",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=1000:sample_rate={AUDIO_SAMPLE_RATE}",
    ]
    if duration is not None:
        argv += ["-t", f"{duration:g}"]
    argv += [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        f"{video_kbps}k",
        "-g",
        gop,
        "-keyint_min",
        gop,
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-ac",
        "2",
        "-f",
        "flv",
        output_url,
    ]
    return argv
