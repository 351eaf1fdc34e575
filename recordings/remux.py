"""Turning a recording's FLV parts into one MP4: pure command builders, and running them.

Recorders write FLV because a recorder killed mid-stream (SIGKILL, a lost node) still leaves a
readable file; an MP4 would be unreadable without its trailer. After the stream, one
``ffmpeg -c copy`` joins the parts (one per recorder start) and writes the MP4 with its index
first (``+faststart``), so a browser can play a download before it has finished.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

FFMPEG = os.environ.get("PRISM_FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("PRISM_FFPROBE", "ffprobe")
# A recorder killed mid-write leaves its last FLV tag cut off; the demuxer marks that packet
# corrupt, and this drops it instead of copying half a frame.
DROP_CUT_OFF = ["-fflags", "+discardcorrupt"]


def concat_list(parts: list[Path], durations: Sequence[float | None] = ()) -> str:
    """The concat demuxer's list file: one ``file '<absolute path>'`` line per part, in order,
    each followed by ``duration <seconds>`` when one is given for it (where the next part starts)."""
    lines = []
    for index, part in enumerate(parts):
        quoted = str(part.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'\n")
        if index < len(durations) and durations[index] is not None:
            lines.append(f"duration {durations[index]:.6f}\n")
    return "".join(lines)


@dataclass(frozen=True)
class PartTimes:
    """A part's packet timing, in seconds: what the concat demuxer needs to place the next part."""

    start: float  # the part's start time, which the concat demuxer subtracts from its timestamps
    first_dts: dict[int, float] = field(default_factory=dict)  # per stream
    end_dts: dict[int, float] = field(default_factory=dict)  # per stream: last DTS + its duration


def build_packet_times_command(path: Path, ffprobe: str = FFPROBE) -> list[str]:
    return [
        ffprobe,
        "-v",
        "error",
        "-show_entries",
        "format=start_time:packet=stream_index,dts_time,duration_time",
        "-of",
        "compact=p=0",
        str(path),
    ]


def parse_packet_times(text: str) -> PartTimes | None:
    """``build_packet_times_command``'s output as PartTimes; None without a start time or packets."""
    start: float | None = None
    first: dict[int, float] = {}
    end: dict[int, float] = {}
    for line in text.splitlines():
        fields = dict(item.split("=", 1) for item in line.strip().split("|") if "=" in item)
        try:
            if "stream_index" in fields:
                index, dts = int(fields["stream_index"]), float(fields["dts_time"])
                length = (
                    float(fields["duration_time"])
                    if fields.get("duration_time") not in (None, "N/A")
                    else 0.0
                )
            elif "start_time" in fields:
                start = float(fields["start_time"])
                continue
            else:
                continue
        except ValueError:
            continue  # N/A timestamps: nothing to place by
        first.setdefault(index, dts)
        end[index] = max(end.get(index, dts), dts + length)
    if start is None or not first:
        return None
    return PartTimes(start, first, end)


# Added to every part's length: a packet whose duration the FLV does not carry (video) still
# takes a frame's time, and the next part must start after it.
JOIN_GAP_SECONDS = 0.05


def join_durations(times: Sequence[PartTimes | None]) -> list[float | None]:
    """How long to make each part in the concat list so that the next part's packets come after
    its own in every stream (None: let the demuxer use the part's own duration).

    The concat demuxer starts part i+1 at part i's start + its duration and shifts each part by its
    start time. A part's duration is measured on presentation times, but with B-frames a part
    begins with decode times before its start, and a recorder killed mid-write ends where it
    ends: either way part i+1's first DTS could land at or before part i's last, and the MP4
    muxer refuses a non-monotonic DTS. So the duration is the largest end of any stream of
    part i, plus how far any stream of part i+1 begins before that part's start, plus a gap.
    """
    durations: list[float | None] = []
    for current, following in zip(times, [*times[1:], None], strict=True):
        if current is None or following is None:
            durations.append(None)
            continue
        ends = max(end - current.start for end in current.end_dts.values())
        early = max(0.0, *(following.start - dts for dts in following.first_dts.values()))
        durations.append(ends + early + JOIN_GAP_SECONDS)
    return durations


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
        list_file.write_text(concat_list(cleaned, join_durations([packet_times(c) for c in cleaned])))
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


def packet_times(path: Path) -> PartTimes | None:
    """Read every packet's timing of ``path`` (a disk-speed pass); None if ffprobe cannot tell."""
    try:
        result = subprocess.run(
            build_packet_times_command(path), capture_output=True, text=True, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    return parse_packet_times(result.stdout) if result.returncode == 0 else None
