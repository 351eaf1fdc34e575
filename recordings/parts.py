"""Where a recording's FLV parts are written (one per recorder start) before the remux joins them."""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import default_storage

from recordings.models import Recording


def parts_dir(recording: Recording) -> Path:
    return Path(default_storage.path(recording.parts_name))


def parts_of(recording: Recording) -> list[Path]:
    """The FLV parts written so far, oldest first (one per recorder start)."""
    folder = parts_dir(recording)
    return sorted(folder.glob("[0-9][0-9][0-9][0-9].flv")) if folder.is_dir() else []


def bytes_written(recording: Recording) -> int:
    return sum(part.stat().st_size for part in parts_of(recording))
