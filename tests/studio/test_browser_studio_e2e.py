"""The browser studio end to end, all real and on loopback: headless Chromium (fake camera from a y4m
of known content, fake microphone) logs in, opens the studio, switches layout and goes live over WHIP
(manage.py whip_server) into nginx-rtmp; the engine (daphne for the page and its socket, the media
worker) relays to two local RTMP sinks, whose recordings are decoded and checked for the camera's
picture and for sound; Stop ends the destinations and the WHIP session."""

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
from streaming.models import StreamSession
from studio.models import StudioSettings
from tests.browser import chromium_page
from tests.conftest import PASSWORD
from tests.rtmp_stack import (
    FFMPEG,
    REPO_ROOT,
    IngestServer,
    SinkServer,
    free_port,
    stop_process,
    wait_until,
)
from tests.streaming.conftest import (
    FAST,
    MediaWorker,
    add_sink_destination,
    creator,
    node_name,
    relay_pids,
    session_of,
    states,
    wait_for,
)
from tests.studio.test_browser_studio import start_daphne
from tests.whip.client import read_sink

pytestmark = pytest.mark.django_db(transaction=True)

# The fake camera: dark left half, bright right half (luma, full range as ffmpeg's color source).
LEFT = 0x30
RIGHT = 0xD0


@dataclass
class StudioStack:
    url: str
    whip_log: Path


@pytest.fixture
def camera_y4m(tmp_path: Path) -> Path:
    path = tmp_path / "camera.y4m"
    source = (
        f"color=c=0x{LEFT:02X}{LEFT:02X}{LEFT:02X}:s=640x360:r=10:d=1,"
        f"drawbox=x=320:y=0:w=320:h=360:color=0x{RIGHT:02X}{RIGHT:02X}{RIGHT:02X}:t=fill"
    )
    argv = [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(argv, check=True)
    return path


def base_env(node: str, ingest: IngestServer) -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        **FAST,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MEDIA_NODE": node,
        "RTMP_PORT": str(ingest.port),
        "RTMP_PUBLIC_URL": f"rtmp://127.0.0.1:{ingest.port}/live",
    }


@pytest.fixture
def studio_stack(tmp_path: Path) -> Iterator[StudioStack]:
    with running_studio_stack(tmp_path) as stack:
        yield stack


@contextlib.contextmanager
def running_studio_stack(tmp_path: Path) -> Iterator[StudioStack]:
    """daphne (page + socket), one node's ingest, media worker and WHIP server; all stopped after."""
    node = node_name("bstudio")
    web_port, whip_port = free_port(), free_port()
    url = f"http://127.0.0.1:{web_port}"
    whip_url = f"http://127.0.0.1:{whip_port}/whip"
    ingest = IngestServer(url, node_name=node)
    worker: MediaWorker | None = None
    web: subprocess.Popen[bytes] | None = None
    whip: subprocess.Popen[bytes] | None = None
    whip_log = tmp_path / "whip.log"
    try:
        ingest.start()
        env = {**base_env(node, ingest), "WHIP_PUBLIC_URL": whip_url}
        web = start_daphne(web_port, env, tmp_path / "daphne.log")
        worker = MediaWorker(node, ingest.port, tmp_path / "worker.log")
        worker.start()
        whip_env = {
            **env,
            "WHIP_PORT": str(whip_port),
            "WHIP_ALLOWED_ORIGINS": url,
            "WHIP_ICE_ADDRESSES": "127.0.0.1",
            "WHIP_ICE_SERVERS": "",
        }
        whip = subprocess.Popen(
            [sys.executable, "manage.py", "whip_server"],
            cwd=REPO_ROOT,
            env=whip_env,
            stdout=whip_log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready = wait_until(
            lambda: b"whip server ready" in whip_log.read_bytes() or whip.poll() is not None, 30
        )
        assert ready, whip_log.read_text()[-3000:]
        assert whip.poll() is None, whip_log.read_text()[-3000:]
        yield StudioStack(url, whip_log)
    finally:
        if whip is not None:
            stop_process(whip, signal.SIGTERM, grace=20)
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


def diagnosis(page, stack: StudioStack, console: list[str]) -> str:
    """What the page and the WHIP server said, for a failure message."""
    shown = {
        name: page.inner_text(selector)
        for name, selector in (
            ("toasts", "#toasts"),
            ("go-live", "#go-live-state"),
            ("health", "#send-health"),
            ("session", "#session-message"),
            ("devices", "#device-message"),
        )
    }
    shown["every toast"] = page.evaluate("window.toastLog || []")
    whip = stack.whip_log.read_text(errors="replace")[-2500:]
    return f"page: {shown}; console: {console[-15:]}; whip log: {whip}"


def test_a_creator_goes_live_from_the_browser_to_two_sinks_and_stops(
    studio_stack: StudioStack, camera_y4m: Path
) -> None:
    user, key = creator("browser-live@example.com", PlanName.PRO)
    # 720p30, the usual studio stream: a 1080p canvas composed in software is more than this
    # shared 2-core machine gives a headless browser next to the whole stack.
    StudioSettings.set_preferred_quality(user.pk, "720p")
    with (
        SinkServer() as first,
        SinkServer() as second,
        chromium_page([f"--use-file-for-fake-video-capture={camera_y4m}"]) as page,
    ):
        add_sink_destination(user, first.url("key-1"), "first")
        add_sink_destination(user, second.url("key-2"), "second")
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.goto(studio_stack.url + "/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
        page.wait_for_url(re.compile(r"/studio/$"))
        page.wait_for_selector("#ws-state:has-text('Live updates on')")

        # Toasts go away after 8 s: keep every one for a failure message.
        page.evaluate(
            """() => { window.toastLog = []; new MutationObserver((records) => records.forEach((r) =>
              r.addedNodes.forEach((n) => window.toastLog.push(n.textContent))))
              .observe(document.getElementById('toasts'), {childList: true}); }"""
        )
        page.click("#start-devices")
        page.wait_for_function("(t => t.microphone && t.camera)(window.PrismStudio.page.tracks)")
        page.click("#share-screen")
        page.wait_for_selector("#stop-screen:visible")
        page.check("input[name=layout][value=side]")
        page.wait_for_function("window.PrismStudio.page.compositor.layout() === 'side'")
        page.check("input[name=layout][value=camera]")
        page.fill("#stream-title", "Browser show")
        page.click("#go-live")

        try:
            page.wait_for_selector("#session-state[data-state=LIVE]", timeout=45_000)
        except Exception:
            raise AssertionError(diagnosis(page, studio_stack, console)) from None
        wait_for(lambda: states(user) == {"first": "LIVE", "second": "LIVE"}, 45, "both destinations LIVE")
        page.wait_for_function(
            "document.querySelectorAll('.dest-row .dest-state[data-state=LIVE]').length === 2", timeout=30_000
        )
        session = session_of(user)
        assert session.title == "Browser show"
        counts: dict[str, int] = {}

        def both_sinks_have_video() -> bool:
            counts.update({"key-1": first.decoded_frames("key-1"), "key-2": second.decoded_frames("key-2")})
            return min(counts.values()) > 90

        if not wait_until(both_sinks_have_video, 90):
            raise AssertionError(f"frames at the sinks {counts}; {diagnosis(page, studio_stack, console)}")
        page.wait_for_function("window.PrismStudio.page.session().codec !== ''", timeout=10_000)
        codec = page.evaluate("window.PrismStudio.page.session().codec")

        page.click("#studio-stop")
        page.wait_for_selector("#session-state[data-state=ENDED]", timeout=30_000)
        page.wait_for_function("window.PrismStudio.page.session() === null")
        assert page.locator(".dest-row .dest-state[data-state=DISCONNECTED]").count() == 2
        session = session_of(user)
        assert session.state == StreamSession.State.ENDED
        wait_for(lambda: not relay_pids(), 15, "every relay gone")
        wait_for(lambda: b"ended" in studio_stack.whip_log.read_bytes(), 15, "the WHIP session ended")
        log = studio_stack.whip_log.read_text(errors="replace")
        assert "via studio" in log
        assert key not in log
        assert codec.lower() == "video/h264"  # preferred by the page, kept by the node
        for sink, name in ((first, "key-1"), (second, "key-2")):
            content = read_sink(sink.recording(name))
            assert content.video_frames > 90, (name, content)
            # The camera's picture: the canvas fills with it in the "camera" layout.
            assert abs(content.left_luma - LEFT) < 25, (name, content.left_luma, content.right_luma)
            assert abs(content.right_luma - RIGHT) < 25, (name, content.left_luma, content.right_luma)
            assert content.audio_rms > 0.001, (name, content.audio_rms)
