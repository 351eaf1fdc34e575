"""Parse FFmpeg's ``-progress`` output (and the relay's, which speaks the same format).

A block is ``key=value`` lines ending with ``progress=continue`` or ``progress=end``::

    frame=120
    fps=30.00
    bitrate= 512.3kbits/s
    total_size=262188
    out_time_us=4000000
    speed=1.00x
    progress=continue

Values can be ``N/A`` and FFmpeg pads some with spaces. The supervisor reads a child's
stdout through this module, so it must never raise on junk: unknown keys, garbage and
half lines are ignored, and a value that does not parse is reported as ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# A line longer than this is not a progress line; dropping it bounds the reader's memory
# when a child writes megabytes without a newline.
MAX_LINE = 4096


@dataclass(frozen=True)
class Progress:
    frame: int | None = None
    fps: float | None = None
    out_time_us: int | None = None
    total_size: int | None = None
    bitrate_kbps: float | None = None
    speed: float | None = None
    ended: bool = False


def _int(value: str) -> int | None:
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _float(value: str, suffix: str = "") -> float | None:
    text = value.strip()
    if suffix and text.endswith(suffix):
        text = text[: -len(suffix)].strip()
    try:
        number = float(text)
    except ValueError:
        return None
    # float() accepts "nan" and "inf"; neither is a measurement.
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        return None
    return number


def _apply(fields: dict[str, object], key: str, value: str) -> None:
    if key == "frame":
        fields["frame"] = _int(value)
    elif key == "fps":
        fields["fps"] = _float(value)
    elif key == "out_time_us":
        fields["out_time_us"] = _int(value)
    elif key == "out_time_ms" and fields.get("out_time_us") is None:
        # FFmpeg's out_time_ms is in microseconds too (a long-standing naming bug).
        fields["out_time_us"] = _int(value)
    elif key == "total_size":
        fields["total_size"] = _int(value)
    elif key == "bitrate":
        fields["bitrate_kbps"] = _float(value, "kbits/s")
    elif key == "speed":
        fields["speed"] = _float(value, "x")
    elif key == "progress":
        fields["ended"] = value.strip() == "end"


def _split(line: str) -> tuple[str, str] | None:
    line = line.strip()
    if "=" not in line or len(line) > MAX_LINE:
        return None
    key, _, value = line.partition("=")
    return key.strip(), value


def parse_progress(lines: Iterable[str]) -> Progress:
    """Fold ``key=value`` lines into one Progress; a later value for a key wins.

    Given one block, this is that block; given several, it is the latest state. Junk lines
    are skipped and unparseable values become ``None``.
    """
    fields: dict[str, object] = {}
    for line in lines:
        if not isinstance(line, str):
            continue
        pair = _split(line)
        if pair is not None:
            _apply(fields, *pair)
    return Progress(**fields)  # type: ignore[arg-type]


class ProgressReader:
    """Incremental parser: feed it lines (or raw chunks) and get a Progress per finished block."""

    def __init__(self) -> None:
        self._block: list[str] = []
        self._partial = ""
        self.last: Progress | None = None

    def feed(self, line: str) -> Progress | None:
        """Take one line; return the block's Progress when this line ends a block."""
        pair = _split(line) if isinstance(line, str) else None
        if pair is None:
            return None
        self._block.append(line)
        if pair[0] != "progress":
            # A child that never ends a block must not grow the block without bound.
            if len(self._block) > 256:
                del self._block[:-64]
            return None
        progress = parse_progress(self._block)
        self._block = []
        self.last = progress
        return progress

    def feed_chunk(self, data: bytes | str) -> list[Progress]:
        """Take raw output (any split, even mid-line); return the blocks it finished."""
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        text = self._partial + data
        *complete, self._partial = text.replace("\r", "\n").split("\n")
        if len(self._partial) > MAX_LINE:
            self._partial = ""
        done = []
        for line in complete:
            progress = self.feed(line)
            if progress is not None:
                done.append(progress)
        return done

    def iter_lines(self, lines: Iterable[str]) -> Iterator[Progress]:
        """Yield a Progress for each block completed by ``lines`` (e.g. a pipe's lines)."""
        for line in lines:
            progress = self.feed(line)
            if progress is not None:
                yield progress


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
