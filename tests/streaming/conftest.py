"""Real pieces for engine tests: the web (live_server), nginx-rtmp ingests calling it back,
media workers as Celery subprocesses on this checkout's test database, sinks and a publisher."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from platforms.models import PlatformConnection
from streaming.models import DestinationStream, IngestKey, StreamSession
from tests.platforms.conftest import fakes, platforms  # noqa: F401 - platform fakes for engine tests
from tests.rtmp_stack import REPO_ROOT, IngestServer, Publisher, SinkServer, stop_process, wait_until

# Timings short enough for tests; the worker subprocesses get them through the environment.
FAST = {
    "STREAM_LEASE_SECONDS": "4",
    "STREAM_HEARTBEAT_SECONDS": "1",
    "STREAM_STALL_SECONDS": "2",
    "STREAM_PUBLISH_HOLD_SECONDS": "1",
    "STREAM_START_TIMEOUT_SECONDS": "12",
    "STREAM_RETRY_BASE_SECONDS": "1",
    "STREAM_MAX_RETRIES": "3",
    "STREAM_STOP_GRACE_SECONDS": "3",
    "STREAM_RECONNECT_GRACE_SECONDS": "30",
    # As in production (Procfile), the media worker's supervisors share a pool, here a small one:
    # a supervisor that kept its connection would starve the others.
    "DB_POOL_MAX_SIZE": "3",
}


def worker_application_name(node: str) -> str:
    """How a node's media worker names its database connections (pg_stat_activity)."""
    return f"prism-media-{node}"


def node_name(suffix: str) -> str:
    return f"t{settings.TEST_RUN_ID[:8]}{suffix}"


@dataclass
class MediaWorker:
    """``celery worker -Q media.<node> -P threads`` for one node, in its own process group."""

    node: str
    rtmp_port: int
    log: Path
    control_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            **FAST,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MEDIA_NODE": self.node,
            "DB_APPLICATION_NAME": worker_application_name(self.node),
            "RTMP_PORT": str(self.rtmp_port),
            "RTMP_CONTROL_PORT": str(self.control_port),
        }
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            f"media.{self.node}",
            "-P",
            "threads",
        ]
        argv += ["-c", "30", "-n", f"media.{self.node}@test", "--without-gossip", "--without-mingle"]
        argv += ["--without-heartbeat", "-l", "INFO"]
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert wait_until(lambda: b"ready." in self.log.read_bytes() or self.proc.poll() is not None, 30)
        assert self.proc.poll() is None, self.log.read_text()[-3000:]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig, grace=15)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc = None


def children_of_group_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            if state != "Z":
                alive.append(pid)
        except (ProcessLookupError, FileNotFoundError):
            pass
    return alive


def relay_pids() -> list[int]:
    """Every relay or encoder started by a supervisor of this checkout's test nodes (tagged in its env)."""
    tag = f"PRISM_SUPERVISED_BY=t{settings.TEST_RUN_ID[:8]}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if tag in env:
            pids.append(int(entry.name))
    return children_of_group_alive(pids)


@dataclass
class Node:
    name: str
    ingest: IngestServer
    worker: MediaWorker


@dataclass
class Engine:
    live_url: str
    tmp: Path
    nodes: list[Node] = field(default_factory=list)

    def add_node(self, suffix: str, update_seconds: int = 2) -> Node:
        name = node_name(suffix)
        # on_update every 2 s (30 s in production): every e2e stream goes through many updates
        # of its publisher and of each reader, as a long stream does.
        ingest = IngestServer(self.live_url, node_name=name, update_seconds=update_seconds)
        ingest.start()
        worker = MediaWorker(name, ingest.port, self.tmp / f"worker-{name}.log", ingest.control_port)
        node = Node(name, ingest, worker)
        self.nodes.append(node)
        worker.start()
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.worker.stop()
            node.ingest.stop()


@pytest.fixture
def engine(live_server: object, tmp_path: Path, settings: object) -> Iterator[Engine]:
    # The web (live_server, this process) holds on_publish for the relays, as in production.
    settings.STREAM_PUBLISH_HOLD_SECONDS = 1.0  # type: ignore[attr-defined]
    eng = Engine(live_url=str(live_server.url), tmp=tmp_path)  # type: ignore[attr-defined]
    try:
        yield eng
    finally:
        eng.stop()
        # No relay or encoder of ours may outlive the test.
        leftover = relay_pids()
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        connection.close()
        assert not leftover, f"orphan media processes: {leftover}"


def creator(email: str, plan: PlanName = PlanName.PRO) -> tuple[User, str]:
    from tests.conftest import make_user

    user = make_user(email)
    if plan != PlanName.FREE:
        Subscription.objects.create(user=user, plan=plan, status=Subscription.Status.ACTIVE)
    key = IngestKey.regenerate(user).key
    return user, key


def add_sink_destination(user: User, sink_url: str, name: str) -> PlatformConnection:
    server, _, key = sink_url.rpartition("/")
    return PlatformConnection.objects.create(
        user=user, kind=PlatformConnection.Kind.CUSTOM, name=name, rtmp_url=server, stream_key=key
    )


def session_of(user: User) -> StreamSession | None:
    return StreamSession.objects.filter(user=user).order_by("-pk").first()


def states(user: User) -> dict[str, str]:
    session = session_of(user)
    if session is None:
        return {}
    return {d.label.split(": ", 1)[-1]: d.state for d in DestinationStream.objects.filter(session=session)}


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    assert wait_until(predicate, timeout, interval=0.2), f"timed out after {timeout} s waiting for {what}"


__all__ = ["Publisher", "SinkServer", "time"]
