"""streaming.ffmpeg: exact argv of the encoder and the helpers, and that FFmpeg accepts them."""

from __future__ import annotations

import subprocess

import pytest

from core.quality import preset_named
from streaming.ffmpeg import build_probe_command, build_transcode_command, output_fps, video_filter
from tests.ffmpeg_commands import build_copy_relay_command, build_test_pattern_command
from tests.rtmp_stack import FFPROBE

IN = "rtmp://127.0.0.1:1935/live/s-0123abcd"
OUT = "rtmp://127.0.0.1:1935/rendition/s-0123abcd-720p"
PROBE = ["-analyzeduration", "6000000", "-probesize", "10000000", "-fpsprobesize", "0"]


def test_the_720p_rendition_command_is_exactly_this() -> None:
    assert build_transcode_command(IN, OUT, preset_named("720p"), source_fps=60) == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
        *PROBE,
        "-rw_timeout",
        "10000000",
        "-tcp_nodelay",
        "1",
        "-i",
        IN,
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-vf",
        "fps=30,scale=w='min(1280,iw)':h='min(720,ih)':force_original_aspect_ratio=decrease"
        ":force_divisible_by=2,format=yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-profile:v",
        "high",
        "-b:v",
        "2500k",
        "-maxrate",
        "2500k",
        "-bufsize",
        "2500k",
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-b:a",
        "128k",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-f",
        "flv",
        "-flvflags",
        "no_duration_filesize",
        OUT,
    ]


def test_1080p60_keeps_60_fps_and_a_two_second_gop() -> None:
    argv = build_transcode_command(IN, OUT, preset_named("1080p60"), source_fps=59.94)
    assert argv[argv.index("-g") + 1] == "120"
    assert argv[argv.index("-keyint_min") + 1] == "120"
    assert argv[argv.index("-vf") + 1].startswith("fps=60,")
    assert argv[argv.index("-b:v") + 1] == "6000k"  # Twitch's ceiling
    assert argv[argv.index("-b:a") + 1] == "160k"


def test_the_frame_rate_never_goes_above_the_source() -> None:
    assert output_fps(preset_named("720p"), 25) == 25
    assert output_fps(preset_named("720p"), 29.97) == 30
    assert output_fps(preset_named("1080p60"), 30) == 30
    assert output_fps(preset_named("1080p60"), None) == 60
    argv = build_transcode_command(IN, OUT, preset_named("720p"), source_fps=25)
    assert argv[argv.index("-g") + 1] == "50"


def test_branding_burns_in_prism_with_the_font_file() -> None:
    vf = video_filter(preset_named("360p"), 30, branding=True, font_path="/f/it's.ttf")
    assert vf == (
        "fps=30,scale=w='min(640,iw)':h='min(360,ih)':force_original_aspect_ratio=decrease:force_divisible_by=2,"
        "drawtext=fontfile='/f/it\\'s.ttf':text='Prism':fontcolor=white@0.9:fontsize=h/14:box=1"
        ":boxcolor=black@0.45:boxborderw=10:x=w-tw-h/24:y=h-th-h/24,format=yuv420p"
    )


def test_threads_are_optional() -> None:
    argv = build_transcode_command(IN, OUT, preset_named("360p"), threads=1)
    assert argv[argv.index("-threads:v") + 1] == "1"
    assert "-threads:v" not in build_transcode_command(IN, OUT, preset_named("360p"))


def test_the_copy_relay_and_probe_commands() -> None:
    assert build_copy_relay_command(IN, OUT, low_probe=False) == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
        "-i",
        IN,
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "flv",
        "-flvflags",
        "no_duration_filesize",
        OUT,
    ]
    assert build_copy_relay_command(IN, OUT)[8:14] == PROBE
    assert build_probe_command(IN, rw_timeout_us=3_000_000) == [
        "ffprobe",
        "-hide_banner",
        "-loglevel",
        "error",
        "-analyzeduration",
        "6000000",
        "-probesize",
        "10000000",
        "-rw_timeout",
        "3000000",
        "-show_entries",
        "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate",
        "-of",
        "json",
        IN,
    ]


def test_the_test_pattern_publisher() -> None:
    assert build_test_pattern_command(OUT, width=640, height=360, fps=25, duration=3, keyframe_seconds=1) == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=48000",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        "400k",
        "-g",
        "25",
        "-keyint_min",
        "25",
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
        OUT,
    ]


@pytest.mark.parametrize("branding", [False, True])
def test_ffmpeg_runs_the_encoder_filters_and_options(tmp_path, branding: bool) -> None:
    """The same output options on a 1 s synthetic input: FFmpeg accepts them and keeps to 2 s GOPs."""
    src = tmp_path / "src.flv"
    # The publisher's own command, minus -re: writing a file need not wait for the clock.
    pattern = build_test_pattern_command(str(src), width=320, height=180, duration=1)
    subprocess.run([a for a in pattern if a != "-re"], check=True, timeout=30)
    out = tmp_path / "out.flv"
    argv = build_transcode_command(str(src), str(out), preset_named("360p"), branding=branding)
    # A file input has no network timeout or TCP option.
    for option in ("-rw_timeout", "-tcp_nodelay"):
        at = argv.index(option)
        del argv[at : at + 2]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "progress=end" in result.stdout
    probe = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height,profile,sample_rate",
            "-of",
            "csv=p=0",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    # The 320x180 source is not upscaled to 640x360.
    assert probe == ["h264,High,320,180", "aac,LC,48000"]
