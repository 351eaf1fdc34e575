"""Property 6 live: the bandwidth is cut under a browser studio stream and the page steps down.

The whole stack (daphne, nginx-rtmp, media worker, WHIP server, Chromium) runs in a network
namespace of its own whose loopback is then shaped with ``tc … tbf`` (CDP's network emulation
does not reach an existing RTCPeerConnection; netem is not on this kernel). PostgreSQL and Redis
stay on the machine's loopback: socat carries them into the namespace over Unix sockets, which
namespaces do not separate.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from billing.plans import PlanName
from studio.models import StudioSettings
from tests.browser import chromium_page
from tests.rtmp_stack import FFMPEG, SinkServer, stop_process, wait_for_port
from tests.streaming.conftest import add_sink_destination, creator, wait_for
from tests.studio.test_browser_studio_e2e import running_studio_stack
from tests.studio.test_browser_studio_media import open_studio

pytestmark = pytest.mark.django_db(transaction=True)

IP = "/usr/sbin/ip"
TC = "/usr/sbin/tc"
SOCAT = "/usr/bin/socat"
BRIDGED_PORTS = (5432, 6379)  # PostgreSQL, Redis


@pytest.fixture
def noisy_camera(tmp_path: Path) -> Path:
    """A fake camera of fresh noise in every frame: an encoder needs every bit it can get for it
    (a still picture sends a few kb/s and no cut would ever hold it back)."""
    path = tmp_path / "noise.y4m"
    source = "nullsrc=s=640x360:r=10:d=2,geq=lum='random(1)*255':cb=128:cr=128"
    argv = [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(argv, check=True)
    return path


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


CLONE_NEWNET = 0x40000000


def set_network_namespace(fd: int) -> None:
    """Move this thread into the network namespace open at ``fd`` (``os.setns`` is Python 3.12+)."""
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


@contextlib.contextmanager
def inside_network_namespace(tmp_path: Path) -> Iterator[str]:
    """This thread (and every process it starts) in a fresh namespace with the DB and Redis bridged."""
    name = f"prism-bw-{secrets.token_hex(3)}"
    run(IP, "netns", "add", name)
    bridges: list[subprocess.Popen[bytes]] = []
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        run(IP, "netns", "exec", name, IP, "link", "set", "lo", "up")
        for port in BRIDGED_PORTS:  # the machine's side: a Unix socket to the real service
            sock = tmp_path / f"bridge-{port}.sock"
            bridges.append(subprocess.Popen([SOCAT, f"UNIX-LISTEN:{sock},fork", f"TCP:127.0.0.1:{port}"]))
            wait_for(sock.exists, 5, f"the bridge for port {port}")
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        set_network_namespace(target)
        os.close(target)
        for port in BRIDGED_PORTS:  # the namespace's side: its 127.0.0.1:<port> to that socket
            sock = tmp_path / f"bridge-{port}.sock"
            bridges.append(
                subprocess.Popen(
                    [SOCAT, f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{sock}"]
                )
            )
            wait_for_port(port)
        yield name
    finally:
        set_network_namespace(home)
        os.close(home)
        for bridge in bridges:
            stop_process(bridge, signal.SIGTERM, grace=5)
        subprocess.run([IP, "netns", "delete", name], check=False)


def test_cutting_the_bandwidth_while_live_steps_the_studio_down_with_a_toast(
    tmp_path: Path,
    noisy_camera: Path,
) -> None:
    user, _ = creator("bandwidth@example.com", PlanName.PRO)
    # 480p, not 720p: Chromium's software H.264 at 720p can run short of CPU on a busy 2-core
    # machine, and a CPU-limited studio steps down to the lowest preset before the cut and stays.
    StudioSettings.set_preferred_quality(user.pk, "480p")
    with (
        inside_network_namespace(tmp_path) as namespace,
        running_studio_stack(tmp_path) as stack,
        SinkServer() as sink,
        chromium_page([f"--use-file-for-fake-video-capture={noisy_camera}"]) as page,
    ):
        add_sink_destination(user, sink.url("key-1"), "sink")
        open_studio(page, stack, user)
        page.evaluate(
            """() => { window.toastLog = []; new MutationObserver((records) => records.forEach((r) =>
              r.addedNodes.forEach((n) => window.toastLog.push(n.textContent))))
              .observe(document.getElementById('toasts'), {childList: true}); }"""
        )
        page.click("#start-devices")
        page.wait_for_function("(t => t.microphone && t.camera)(window.PrismStudio.page.tracks)")
        page.click("#go-live")
        page.wait_for_selector("#session-state[data-state=LIVE]", timeout=45_000)
        # On the unshaped link the studio holds its ceiling, 480p (it starts there; 1.5 Mb/s needed).
        try:
            page.wait_for_function(
                "document.getElementById('browser-studio').dataset.quality === '480p'",
                timeout=60_000,
            )
        except Exception:
            raise AssertionError(
                f"never at 480p before the cut: {page.inner_text('#quality-state')}; "
                f"sample {page.evaluate('window.PrismStudio.page.lastSample')}; "
                f"toasts {page.evaluate('window.toastLog')}"
            ) from None
        # Every preset the studio holds from the cut on (a held link may step it up just then).
        before = page.evaluate(
            """() => { const root = document.getElementById('browser-studio');
              window.qualityLog = [root.dataset.quality];
              new MutationObserver(() => window.qualityLog.push(root.dataset.quality))
                .observe(root, {attributes: true, attributeFilter: ['data-quality']});
              return root.dataset.quality; }"""
        )
        toasts_before = page.evaluate("window.toastLog.length")
        # 1 Mb/s: below what 480p needs (1.5 Mb/s). What the browser then measures decides between
        # 360p and "too slow" (the lowest preset, said so): either is a step down with a toast.
        run(
            TC,
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "tbf",
            "rate",
            "1mbit",
            "burst",
            "16kb",
            "latency",
            "100ms",
        )
        try:
            # A toast, and a preset below the highest one held since the cut.
            page.wait_for_function(
                """(n) => { const ranks = window.PrismStudio.page.config.presets.map((p) => p.name);
                  const now = ranks.indexOf(document.getElementById('browser-studio').dataset.quality);
                  const peak = Math.max(...window.qualityLog.map((q) => ranks.indexOf(q)));
                  return window.toastLog.slice(n).some((t) => /Quality lowered|too slow/.test(t))
                    && now < peak; }""",
                arg=toasts_before,
                timeout=30_000,
            )
        except Exception:
            shown = [page.inner_text(s) for s in ("#quality-state", "#send-health")]
            raise AssertionError(
                f"before {before}; now {shown}; given {page.evaluate('window.PrismStudio.page.lastSample')}; "
                f"toasts {page.evaluate('window.toastLog')}; held {page.evaluate('window.qualityLog')}"
            ) from None
        after = page.evaluate("document.getElementById('browser-studio').dataset.quality")
        state = page.inner_text("#quality-state")
        ranks = page.evaluate("window.PrismStudio.page.config.presets.map((p) => p.name)")
        held = page.evaluate("window.qualityLog")
        assert ranks.index(after) < max(ranks.index(q) for q in held), (before, held, after, state)
        assert namespace
