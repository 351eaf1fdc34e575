"""Turning a recording's FLV parts into one MP4: pure command builders, and running them.

Recorders write FLV because a recorder killed mid-stream (SIGKILL, a lost node) still leaves a
readable file; an MP4 would be unreadable without its trailer. After the stream, one
``ffmpeg -c copy`` joins the parts (one per recorder start) and writes the MP4 with its index
first (``+faststart``), so a browser can play a download before it has finished.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FFMPEG = os.environ.get("PRISM_FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("PRISM_FFPROBE", "ffprobe")
# A recorder killed mid-write leaves its last FLV tag cut off; the demuxer marks that packet
# corrupt, and this drops it instead of copying half a frame.
DROP_CUT_OFF = ["-fflags", "+discardcorrupt"]


def concat_list(parts: list[Path]) -> str:
    """The concat demuxer's list file: one ``file '<absolute path>'`` line per part, in order."""
    lines = []
    for part in parts:
        quoted = str(part.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'\n")
    return "".join(lines)


def _copy_command(inputs: list[str], output: Path, muxer_args: list[str], ffmpeg: str) -> list[str]:
    head = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs]
    return [*head, "-map", "0:v?", "-map", "0:a?", "-c", "copy", *muxer_args, str(output)]


def build_remux_command(
    source: Path, output: Path, *, concat: bool = False, ffmpeg: str = FFMPEG
) -> list[str]:
    """One FLV (or a concat list of FLVs) to an MP4 with its index first, without re-encoding."""
    # auto_convert off: the concat demuxer's automatic h264_mp4toannexb is for MPEG-TS outputs,
    # and one damaged packet in it ends the whole join.
    concat_input = ["-f", "concat", "-safe", "0", "-auto_convert", "0", "-i", str(source)]
    inputs = concat_input if concat else [*DROP_CUT_OFF, "-i", str(source)]
    return _copy_command(inputs, output, ["-movflags", "+faststart", "-f", "mp4"], ffmpeg)


def build_clean_command(part: Path, output: Path, ffmpeg: str = FFMPEG) -> list[str]:
    """Rewrite a part as a whole FLV, without a cut-off last packet, and with its duration in the
    header, which is where the concat demuxer reads where the next part starts."""
    return _copy_command([*DROP_CUT_OFF, "-i", str(part)], output, ["-f", "flv"], ffmpeg)


def build_duration_command(path: Path, ffprobe: str = FFPROBE) -> list[str]:
    return [
        ffprobe,
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "default=noprint_wrappers=1:nokey=1",
        str(path),
    ]


def parse_duration(text: str) -> float | None:
    """Seconds from ffprobe's ``format=duration`` line; None for ``N/A`` or nothing."""
    try:
        value = float(text.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None
    return value if value >= 0 else None


def remux_timeout(total_bytes: int) -> float:
    """A copy runs at disk speed; allow 10 MB/s and a minute to start."""
    return 60.0 + total_bytes / 10_000_000


def _run(argv: list[str], timeout: float, output: Path) -> str | None:
    """None when ``argv`` wrote ``output``, else ffmpeg's last error line."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timed out"
    if result.returncode != 0 or not output.exists():
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return lines[-1][:200] if lines else f"ffmpeg exited with {result.returncode}"
    return None


def remux_parts(parts: list[Path], output: Path) -> str | None:
    """Join ``parts`` into the MP4 ``output``; None on success, else ffmpeg's last error line."""
    timeout = remux_timeout(sum(p.stat().st_size for p in parts))
    if len(parts) == 1:
        return _run(build_remux_command(parts[0], output), timeout, output)
    cleaned = [part.with_name(part.stem + ".whole.flv") for part in parts]
    list_file = output.with_name(output.name + ".txt")
    try:
        for part, clean in zip(parts, cleaned, strict=True):
            error = _run(build_clean_command(part, clean), timeout, clean)
            if error is not None:
                return error
        list_file.write_text(concat_list(cleaned))
        return _run(build_remux_command(list_file, output, concat=True), timeout, output)
    finally:
        list_file.unlink(missing_ok=True)
        for clean in cleaned:
            clean.unlink(missing_ok=True)


def probe_duration(path: Path) -> float | None:
    try:
        result = subprocess.run(
            build_duration_command(path), capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    return parse_duration(result.stdout) if result.returncode == 0 else None
