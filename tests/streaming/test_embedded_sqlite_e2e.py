"""`make run`'s embedded default holds a real session: SQLite, with web (daphne), worker, media
worker and beat as separate processes exactly as the Procfile runs them, all writing at once.

A PRO creator who records streams for 60 s, then publishes four more times in a row (each
publish starts a new session: the reconnect grace is 0 s). Every publish must go live, every
recording must be finished, and no process may ever say ``database is locked``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.rtmp_stack import (
    REPO_ROOT,
    IngestServer,
    Publisher,
    SinkServer,
    free_port,
    stop_process,
    wait_for_port,
    wait_until,
)

FIRST_STREAM_SECONDS = 60.0
LATER_STREAM_SECONDS = 8.0
PUBLISHES = 5

SETUP_CREATOR = """
from billing.models import Subscription
from platforms.models import PlatformConnection
from recordings.actions import set_recording_enabled
from streaming.models import IngestKey
from accounts.models import User
user = User.objects.create_user(email="sqlite@example.com", password="x" * 12)
Subscription.objects.create(user=user, plan="PRO", status=Subscription.Status.ACTIVE)
set_recording_enabled(user, True)
server, _, key = "{sink}".rpartition("/")
PlatformConnection.objects.create(user=user, kind="CUSTOM", name="sink", rtmp_url=server, stream_key=key)
print("KEY=" + IngestKey.regenerate(user).key)
"""


@dataclass
class EmbeddedSite:
    """The Procfile's processes on one SQLite file, a private Redis database and a free port."""

    tmp: Path
    web_port: int = field(default_factory=free_port)
    node: str = field(default_factory=lambda: f"t{settings.TEST_RUN_ID[:8]}sq")
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.tmp / "prism.sqlite3"

    def env(self, ingest: IngestServer | None = None) -> dict[str, str]:
        # A Redis database of its own: this site's `default` queue must not meet another test's.
        redis_db = 2 + int(settings.TEST_RUN_ID, 16) % 14
        env = {
            **os.environ,
            "ENV_FILE": "/dev/null",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "1",  # as `make run` writes .env
            "DATABASE_URL": f"sqlite:///{self.database}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "CHANNEL_LAYER_PREFIX": f"sqlite-{settings.TEST_RUN_ID}",
            "MEDIA_ROOT": str(self.tmp / "media"),
            "MEDIA_NODE": self.node,
            # 0: each publish ends the previous session (its publisher gone) and starts its own.
            "STREAM_RECONNECT_GRACE_SECONDS": "0",
        }
        for name in ("DB_POOL_MAX_SIZE", "STREAM_PUBLISH_HOLD_SECONDS"):  # the test suite's, not make run's
            env.pop(name, None)
        if ingest is not None:
            env["RTMP_PORT"] = str(ingest.port)
            env["RTMP_CONTROL_PORT"] = str(ingest.control_port)
        return env

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self, ingest: IngestServer) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        commands = {  # the Procfile's, with this test's node, port and schedule file
            "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.web_port),
                    "config.asgi:application"],
            "worker": [*celery, "worker", "-Q", "default", "--concurrency", "2", "-l", "INFO",
                       "-n", f"default.{self.node}@test"],
            "media": [*celery, "worker", "-Q", f"media.{self.node}", "-P", "threads", "--concurrency",
                      "200", "-l", "INFO", "-n", f"media.{self.node}@test"],
            "beat": [*celery, "beat", "-l", "INFO", "--schedule", str(self.tmp / "celerybeat-schedule")],
        }  # fmt: skip
        for name, argv in commands.items():
            self.procs[name] = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env=self.env(ingest),
                stdout=self.log(name).open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.web_port, timeout=30)
        for name in ("worker", "media"):
            assert wait_until(lambda name=name: b"ready." in self.log(name).read_bytes(), 60), self.output(
                name
            )

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def output(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc, signal.SIGTERM, grace=20)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=20) as db:
            return db.execute(sql).fetchall()


def migrated_template() -> Path:
    """A migrated SQLite file for this checkout's migrations (TEST_RUN_ID digests them), made
    once: migrating dj-stripe's schema on SQLite takes minutes on a busy machine."""
    template = Path(tempfile.gettempdir()) / f"prism-sqlite-{settings.TEST_RUN_ID}.sqlite3"
    if not template.exists():
        maker = EmbeddedSite(Path(tempfile.mkdtemp(prefix="prism-sqlite-")))
        maker.manage("migrate", "--noinput", timeout=900)
        with sqlite3.connect(maker.database) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.move(maker.database, template)
        shutil.rmtree(maker.tmp, ignore_errors=True)
    return template


@pytest.fixture
def site(tmp_path: Path) -> Iterator[EmbeddedSite]:
    embedded = EmbeddedSite(tmp_path)
    shutil.copyfile(migrated_template(), embedded.database)
    embedded.manage("migrate", "--noinput", "--check")  # the copy is this checkout's schema
    try:
        yield embedded
    finally:
        embedded.stop()


def latest_session(site: EmbeddedSite) -> tuple[int, str] | None:
    rows = site.query("SELECT id, state FROM streaming_streamsession ORDER BY id DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else None  # type: ignore[call-overload]


def destination_live(site: EmbeddedSite, session_id: int) -> bool:
    rows = site.query(f"SELECT state FROM streaming_destinationstream WHERE session_id = {session_id}")  # noqa: S608
    return rows == [("LIVE",)]


def test_make_runs_sqlite_holds_a_recorded_stream_and_five_publishes_in_a_row(site: EmbeddedSite) -> None:
    with SinkServer() as sink:
        out = site.manage("shell", "-c", SETUP_CREATOR.format(sink=sink.url("sqlite-sink")))
        key = out.strip().rsplit("KEY=", 1)[1]
        with IngestServer(f"http://127.0.0.1:{site.web_port}", node_name=site.node) as ingest:
            site.start(ingest)
            assert site.query("PRAGMA journal_mode") == [("wal",)]
            sessions: list[int] = []
            for attempt in range(PUBLISHES):
                seconds = FIRST_STREAM_SECONDS if attempt == 0 else LATER_STREAM_SECONDS
                with Publisher(ingest.url(key), duration=seconds, keyframe_seconds=1) as publisher:
                    assert wait_until(
                        lambda: (
                            (s := latest_session(site)) is not None
                            and s[0] not in sessions
                            and destination_live(site, s[0])
                        ),
                        45,
                        interval=0.2,
                    ), f"publish {attempt + 1} did not go live: {site.output('web')[-3000:]}"
                    session = latest_session(site)
                    assert session is not None
                    sessions.append(session[0])
                    assert wait_until(lambda: not publisher.running(), seconds + 30)
                    assert publisher.proc is not None
                    # Refused mid-stream (on_update), the publisher would have failed.
                    assert publisher.proc.returncode == 0, f"publish {attempt + 1} was cut"
            # Each publish found the previous session waiting for its publisher (grace 0 s) and
            # started its own; the last ends when beat's reconciler sees its publisher gone.
            assert wait_until(
                lambda: (
                    site.query("SELECT COUNT(*) FROM recordings_recording WHERE state = 'READY'")
                    == [(PUBLISHES,)]
                ),
                90,
                interval=0.5,
            ), site.query("SELECT id, state, message FROM recordings_recording")
    assert len(set(sessions)) == PUBLISHES
    for name in ("web", "worker", "media", "beat"):
        text = site.output(name)
        assert "database is locked" not in text, f"{name}: {text[-3000:]}"
        assert "callback failed" not in text, f"{name}: {text[-3000:]}"
        assert "publish refused" not in text, f"{name}: {text[-3000:]}"
