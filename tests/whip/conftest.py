"""The WHIP server as production runs it: ``manage.py whip_server`` in its own process, on this
checkout's test database, publishing into a real nginx-rtmp ingest (tests/streaming/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.rtmp_stack import REPO_ROOT, free_port, stop_process, wait_until
from tests.streaming.conftest import FAST, Engine, Node, engine  # noqa: F401 - the engine fixture

STUDIO_ORIGIN = "https://studio.example.test"


@dataclass
class WhipProcess:
    rtmp_port: int
    node: str
    log: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # settings of this node only (WHIP_MAX_SESSIONS…)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/whip"

    def start(self) -> None:
        self.port = self.port or free_port()
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            **FAST,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MEDIA_NODE": self.node,
            "RTMP_PORT": str(self.rtmp_port),
            "WHIP_PORT": str(self.port),
            "WHIP_PUBLIC_URL": self.endpoint,
            "WHIP_ALLOWED_ORIGINS": STUDIO_ORIGIN,
            "WHIP_ICE_ADDRESSES": "127.0.0.1",
            "WHIP_ICE_SERVERS": "",
            **self.env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "whip_server"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready = wait_until(
            lambda: b"whip server ready" in self.log.read_bytes() or self.proc.poll() is not None, 30
        )
        assert ready, self.log.read_text()[-3000:]
        assert self.proc.poll() is None, self.log.read_text()[-3000:]

    def stop(self, sig: int = signal.SIGTERM, grace: float = 20) -> int | None:
        if self.proc is None:
            return None
        code = stop_process(self.proc, sig, grace=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def whip_alone(transactional_db: None, tmp_path: Path) -> Iterator[WhipProcess]:
    """A WHIP server whose ingest port is closed: for everything decided before publishing."""
    whip = WhipProcess(rtmp_port=free_port(), node="whip-alone", log=tmp_path / "whip.log")
    whip.start()
    try:
        yield whip
    finally:
        whip.stop()


@dataclass
class WhipNode:
    node: Node
    whip: WhipProcess


@pytest.fixture
def whip_node(engine: Engine, tmp_path: Path) -> Iterator[WhipNode]:  # noqa: F811
    """A media node (ingest + media worker) with its WHIP server."""
    node = engine.add_node("w")
    whip = WhipProcess(rtmp_port=node.ingest.port, node=node.name, log=tmp_path / "whip.log")
    whip.start()
    try:
        yield WhipNode(node, whip)
    finally:
        whip.stop()
