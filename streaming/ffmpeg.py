"""Pure builders of FFmpeg/ffprobe argument lists. No process is started here.

Every URL passed in must be secret-free (``rtmp://127.0.0.1:PORT/live/s-<hex>``,
``.../rendition/s-<hex>-720p``): argv is readable by every user of the machine through
``ps`` and ``/proc/PID/cmdline``. Relays to destinations, whose URLs carry stream keys, are
built by ``streaming.relay.RelayJob``, which leaves the key out of argv.
"""

from __future__ import annotations

from math import floor

from core.quality import QualityPreset

BRANDING_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"  # Debian: fonts-dejavu-core
BRANDING_TEXT = "Prism"
KEYFRAME_SECONDS = 2  # every platform asks for a keyframe every 2 s
AUDIO_SAMPLE_RATE = 48000

# Probing of a live input from nginx-rtmp (measured; see streaming.relay.DEFAULT_PROBE): it
# ends as soon as audio and video have both appeared, i.e. at the first keyframe, so the
# analyzeduration is a ceiling above any sane keyframe interval, not a wait. -fpsprobesize 0
# skips frame-rate estimation (~1.3 s saved); no -fflags nobuffer, which would throw away
# the keyframe read while probing and wait a whole keyframe interval more.
LOW_PROBE_INPUT = ("-analyzeduration", "6000000", "-probesize", "10000000", "-fpsprobesize", "0")
# Abort when the input stalls this long (µs) instead of waiting forever; the supervisor
# restarts us, and nginx's drop_idle_publisher ends a dead publisher after 10 s anyway.
INPUT_RW_TIMEOUT_US = "10000000"


def output_fps(preset: QualityPreset, source_fps: float | None) -> int:
    """The rendition's frame rate: the preset's, never above the source's (no upsampling)."""
    if source_fps is None or source_fps <= 0:
        return preset.fps
    return max(1, min(preset.fps, floor(source_fps + 0.5)))


def _filter_escape(value: str) -> str:
    # Inside a quoted filter option only the quote and the backslash are special.
    return value.replace("\\", "\\\\").replace("'", "\\'")


def video_filter(preset: QualityPreset, fps: int, branding: bool, font_path: str = BRANDING_FONT) -> str:
    """The -vf chain: frame rate, fit inside the preset's box (keep aspect, even sizes), brand."""
    steps = [
        f"fps={fps}",
        # min(): never upscale a source smaller than the preset (we may not know its size).
        f"scale=w='min({preset.width},iw)':h='min({preset.height},ih)'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2",
    ]
    if branding:
        steps.append(
            f"drawtext=fontfile='{_filter_escape(font_path)}':text='{BRANDING_TEXT}'"
            ":fontcolor=white@0.9:fontsize=h/14:box=1:boxcolor=black@0.45:boxborderw=10"
            ":x=w-tw-h/24:y=h-th-h/24"
        )
    steps.append("format=yuv420p")
    return ",".join(steps)


def build_transcode_command(
    input_url: str,
    output_url: str,
    preset: QualityPreset,
    *,
    source_fps: float | None = None,
    branding: bool = False,
    font_path: str = BRANDING_FONT,
    ffmpeg: str = "ffmpeg",
    threads: int | None = None,
) -> list[str]:
    """argv of one rendition encoder: read the session's live stream, publish the rendition.

    x264 veryfast/zerolatency, a keyframe every 2 s exactly (no scene-cut keyframes), CBR-like
    rate control at the preset's bitrate (VBV of one second, like OBS's CBR), AAC-LC 48 kHz
    stereo at the preset's audio bitrate, FLV out. Progress goes to stdout, warnings to stderr.
    """
    fps = output_fps(preset, source_fps)
    gop = str(KEYFRAME_SECONDS * fps)
    kbps = f"{preset.video_kbps}k"
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
        *LOW_PROBE_INPUT,
        "-rw_timeout",
        INPUT_RW_TIMEOUT_US,
        # RTMP's opening exchange without Nagle's 40 ms stalls (see streaming.relay.NO_NAGLE).
        "-tcp_nodelay",
        "1",
        "-i",
        input_url,
        "-map",
        "0:v:0",
        # A source without audio still gets a rendition ("?" makes the audio optional).
        "-map",
        "0:a:0?",
        "-vf",
        video_filter(preset, fps, branding, font_path),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-profile:v",
        "high",
        "-b:v",
        kbps,
        "-maxrate",
        kbps,
        "-bufsize",
        kbps,
        "-g",
        gop,
        "-keyint_min",
        gop,
        "-sc_threshold",
        "0",
    ]
    if threads is not None:
        argv += ["-threads:v", str(threads)]
    argv += [
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-b:a",
        f"{preset.audio_kbps}k",
        "-ar",
        str(AUDIO_SAMPLE_RATE),
        "-ac",
        "2",
        "-f",
        "flv",
        # A live FLV has no final duration/size to seek back and patch.
        "-flvflags",
        "no_duration_filesize",
        output_url,
    ]
    return argv


def build_probe_command(url: str, *, ffprobe: str = "ffprobe", rw_timeout_us: int = 5_000_000) -> list[str]:
    """argv of a quick ffprobe of a live stream: its streams' codecs, size and frame rate, JSON.

    Unlike the relay it keeps frame-rate estimation on (no -fpsprobesize 0): the plan needs
    the rate, and probing once per session can afford the extra second."""
    return [
        ffprobe,
        "-hide_banner",
        "-loglevel",
        "error",
        "-analyzeduration",
        "6000000",
        "-probesize",
        "10000000",
        "-rw_timeout",
        str(rw_timeout_us),
        "-show_entries",
        "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate",
        "-of",
        "json",
        url,
    ]
