"""Recordings tests run the real engine (tests/streaming/conftest.py) with MEDIA_ROOT in a temp dir,
shared by this process and the media worker subprocesses (they inherit the environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from billing.plans import PlanName, limits_of
from recordings.models import Recording
from tests.streaming.conftest import engine  # noqa: F401  (the real engine fixture)


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


def fill_storage(user: User, plan: PlanName, leave_free: int = 0) -> Recording:
    """A READY recording (no file needed) whose bytes leave ``leave_free`` of the plan's quota."""
    return Recording.objects.create(
        user=user, state=Recording.State.READY, bytes=limits_of(plan).storage_bytes - leave_free
    )
