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

from collections.abc import Iterable
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
    """Incremental parser: feed it lines and get a Progress per finished block."""

    def __init__(self) -> None:
        self._block: list[str] = []
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
