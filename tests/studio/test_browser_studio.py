"""The whole live experience in a real Chromium: daphne (HTTP + WebSockets) as a subprocess on the
test database, nginx-rtmp calling it back, a real Celery media worker and an FFmpeg publisher."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from billing.plans import PlanName
from platforms.models import PlatformConnection
from streaming import actions
from streaming.models import StreamSession
from tests.browser import browser_page  # noqa: F401  (fixture)
from tests.conftest import PASSWORD
from tests.rtmp_stack import REPO_ROOT, IngestServer, Publisher, free_port, stop_process, wait_for_port
from tests.streaming.conftest import FAST, MediaWorker, creator, node_name, relay_pids, session_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Stack:
    url: str
    ingest: IngestServer


def start_daphne(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_port(port, timeout=20)
    except TimeoutError:
        stop_process(proc, signal.SIGTERM)
        raise RuntimeError(log.read_text()[-3000:]) from None
    return proc


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """daphne + ingest + media worker of one node, all on loopback, all stopped afterwards."""
    node = node_name("studio")
    web_port = free_port()
    url = f"http://127.0.0.1:{web_port}"
    ingest = IngestServer(url, node_name=node)
    worker: MediaWorker | None = None
    web: subprocess.Popen[bytes] | None = None
    try:
        ingest.start()
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            **FAST,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MEDIA_NODE": node,
            "RTMP_PORT": str(ingest.port),
            "RTMP_PUBLIC_URL": f"rtmp://127.0.0.1:{ingest.port}/live",
            "RTMP_SINK_HLS_DIR": str(Path(str(ingest.workdir)) / "hls"),
        }
        web = start_daphne(web_port, env, tmp_path / "daphne.log")
        worker = MediaWorker(node, ingest.port, tmp_path / "worker.log", ingest.control_port)
        worker.start()
        yield Stack(url, ingest)
    finally:
        if worker is not None:
            worker.stop()
        if web is not None:
            stop_process(web, signal.SIGTERM, grace=10)
        ingest.stop()
        leftover = relay_pids()
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        connection.close()
        assert not leftover, f"orphan media processes: {leftover}"


def test_a_creator_goes_live_to_the_local_test_destination_watches_it_and_stops(
    stack: Stack,
    browser_page,  # noqa: F811
) -> None:
    page = browser_page
    user, _ = creator("studio@example.com", PlanName.PRO)
    page.goto(stack.url + "/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
    page.wait_for_url(re.compile(r"/studio/$"))
    page.get_by_role("button", name="Add a local test destination").click()
    page.wait_for_url(re.compile(r"/studio/$"))
    page.wait_for_selector("#ws-state:has-text('Live updates on')")

    page.fill("#reveal-password", PASSWORD)
    page.get_by_role("button", name="Show key").click()
    page.wait_for_selector("#ingest-key:not(:has-text('••'))")
    key = page.inner_text("#ingest-key").strip()
    assert key.startswith("live_")

    with Publisher(stack.ingest.url(key), keyframe_seconds=1):
        # No reload: the badges change because the engine's pushes arrive over the WebSocket.
        page.wait_for_selector("#session-state[data-state=LIVE]", timeout=30_000)
        page.wait_for_selector(".dest-row .dest-state[data-state=LIVE]", timeout=30_000)
        assert "Local test destination" in page.inner_text("#dest-rows")
        page.screenshot(path="/tmp/studio-live.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/studio-live-390.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})

        preview = page.context.new_page()
        preview.goto(page.url)
        preview.get_by_role("link", name="Preview").click()
        preview.wait_for_function("document.getElementById('preview').currentTime > 0.5", timeout=30_000)
        first = preview.evaluate("document.getElementById('preview').currentTime")
        preview.wait_for_function(
            f"document.getElementById('preview').currentTime > {first + 1}", timeout=10_000
        )
        preview.screenshot(path="/tmp/studio-preview.png")
        preview.close()

        page.get_by_role("button", name="Stop stream").click()
        try:
            page.wait_for_selector("#session-state[data-state=ENDED]", timeout=20_000)
        except Exception:
            session = session_of(user)
            history = session.events.values_list("destination_id", "from_state", "to_state", "message")
            events = list(history) if session else []
            state = session and session.state
            raise AssertionError(f"not ENDED in the page; session {state}: {events}") from None
        assert page.locator(".dest-row .dest-state[data-state=DISCONNECTED]").count() == 1
    session = session_of(user)
    assert session is not None
    assert session.state == StreamSession.State.ENDED
    assert session.end_reason == "Stopped."
    wait_for(lambda: not relay_pids(), 10, "every relay gone")


def test_a_refused_publish_is_shown_live_with_what_to_do_and_never_as_starting(
    stack: Stack,
    browser_page,  # noqa: F811
) -> None:
    page = browser_page
    user, key = creator("refused@example.com", PlanName.FREE)
    sinks = [
        PlatformConnection.objects.create(
            user=user, kind="CUSTOM", name=f"sink {n}", rtmp_url="rtmp://127.0.0.1:1/app", stream_key=f"k{n}"
        )
        for n in (1, 2)
    ]  # one more than Free allows
    page.goto(stack.url + "/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
    page.wait_for_url(re.compile(r"/studio/$"))
    page.wait_for_selector("#ws-state:has-text('Live updates on')")
    # Every state the badge ever shows, so a Starting -> Live flash cannot go unseen.
    page.evaluate(
        """window.seenStates = [];
        const badge = document.getElementById('session-state');
        new MutationObserver(() => window.seenStates.push(badge.dataset.state))
          .observe(badge, {attributes: true});"""
    )

    with Publisher(stack.ingest.url(key), keyframe_seconds=1) as publisher:
        page.wait_for_selector("#publish-refused:not([hidden])", timeout=20_000)
        wait_for(lambda: not publisher.running(), 20, "nginx to refuse the publisher")
    assert "destination" in page.inner_text("#publish-refused-message").lower()
    upgrade = page.locator("#publish-refused-upgrade")
    assert upgrade.is_visible()
    assert upgrade.get_attribute("href").endswith("/pricing/")
    assert page.get_attribute("#session-state", "data-state") == "NONE"
    assert not {"STARTING", "LIVE"} & set(page.evaluate("window.seenStates"))
    assert session_of(user) is None

    # Within the plan again: the next publish goes live and the notice goes away.
    sinks[1].delete()
    with Publisher(stack.ingest.url(key), keyframe_seconds=1):
        page.wait_for_selector("#session-state[data-state=STARTING], #session-state[data-state=LIVE]")
        page.wait_for_selector("#publish-refused[hidden]", state="attached", timeout=10_000)
        session = session_of(user)
        assert session is not None
        actions.stop_session(session.pk)
        wait_for(lambda: session_of(user).state not in StreamSession.ACTIVE, 20, "the session to end")  # type: ignore[union-attr]
    wait_for(lambda: not relay_pids(), 10, "every relay gone")
