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


def concat_list(parts: list[Path]) -> str:
    """The concat demuxer's list file: one ``file '<absolute path>'`` line per part, in order."""
    lines = []
    for part in parts:
        quoted = str(part.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'\n")
    return "".join(lines)


def build_remux_command(list_file: Path, output: Path, ffmpeg: str = FFMPEG) -> list[str]:
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(list_file),
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(output),
    ]


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


def remux_parts(parts: list[Path], output: Path) -> str | None:
    """Join ``parts`` into the MP4 ``output``; None on success, else ffmpeg's last error line."""
    list_file = output.with_name(output.name + ".txt")
    list_file.write_text(concat_list(parts))
    try:
        result = subprocess.run(
            build_remux_command(list_file, output),
            capture_output=True,
            text=True,
            timeout=remux_timeout(sum(p.stat().st_size for p in parts)),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    finally:
        list_file.unlink(missing_ok=True)
    if result.returncode != 0 or not output.exists():
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return lines[-1][:200] if lines else f"ffmpeg exited with {result.returncode}"
    return None


def probe_duration(path: Path) -> float | None:
    try:
        result = subprocess.run(
            build_duration_command(path), capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    return parse_duration(result.stdout) if result.returncode == 0 else None
