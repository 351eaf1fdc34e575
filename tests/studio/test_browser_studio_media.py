"""The browser studio in a real headless Chromium (fake camera from a y4m of known colour, fake
microphone, fake screen share), served by daphne on the test database.

Property 5 read back from the live microphone track, layouts checked on the program canvas's
pixels, the mixer's meters against the fake microphone, and the page's adaptive-bitrate rule
against the Python one on generated inputs.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from billing.plans import PlanName
from core.quality import PRESET_NAMES
from streaming.adaptive import HOLD_SECONDS, AbrState, next_preset
from studio.models import StudioSettings
from tests.browser import chromium_page
from tests.rtmp_stack import FFMPEG, free_port, stop_process
from tests.streaming.conftest import creator
from tests.studio.test_browser_studio import start_daphne

pytestmark = pytest.mark.django_db(transaction=True)

# The fake camera's colour (RGB); YUV 4:2:0 round trips move it a little.
CAMERA_RGB = (208, 32, 32)


@dataclass
class Web:
    url: str


@pytest.fixture(scope="module")
def red_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A y4m of one known colour for Chromium's fake camera (it loops the file)."""
    path = tmp_path_factory.mktemp("camera") / "red.y4m"
    colour = "0x{:02X}{:02X}{:02X}".format(*CAMERA_RGB)
    source = f"color=c={colour}:s=640x360:r=10:d=1"
    argv = [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(argv, check=True)
    return path


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    port = free_port()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    proc = start_daphne(port, env, tmp_path / "daphne.log")
    try:
        yield Web(f"http://127.0.0.1:{port}")
    finally:
        stop_process(proc, signal.SIGTERM, grace=10)
        connection.close()


def open_studio(page, web: Web, user: User) -> None:
    """Log in with a real session cookie, open the studio, wait for its socket."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": web.url,
            }
        ]
    )
    page.goto(web.url + "/studio/")
    page.wait_for_selector("#ws-state:has-text('Live updates on')")


def turn_on(page) -> None:
    page.click("#start-devices")
    page.wait_for_function(
        "window.PrismStudio.page.tracks.microphone && window.PrismStudio.page.tracks.camera"
    )


def test_every_audio_setting_the_page_allows_reaches_the_live_microphone_track(web: Web) -> None:
    """Property 5: noiseSuppression and echoCancellation always on, automatic gain and the mix's
    sample rate as stored."""
    user, _ = creator("audio@example.com", PlanName.PRO)
    with chromium_page() as page:
        open_studio(page, web, user)
        rates = [
            int(v) for v in page.eval_on_selector_all("#sample-rate option", "os => os.map(o => o.value)")
        ]
        assert rates, "the page offers no sample rate"
        seen = []
        for agc in (True, False):
            for rate in rates:
                page.set_checked("#agc", agc)
                page.select_option("#sample-rate", str(rate))
                page.click("#audio-form button[type=submit]")
                page.wait_for_selector(".toast:has-text('Microphone settings saved')")  # the server's answer
                stored = StudioSettings.objects.get(user=user)
                assert (stored.auto_gain_control, stored.sample_rate) == (agc, rate)
                page.reload()  # the stored settings, not the page's memory, drive the next capture
                page.wait_for_selector("#ws-state:has-text('Live updates on')")
                turn_on(page)
                applied = page.evaluate("window.PrismStudio.page.tracks.microphone.getSettings()")
                seen.append((agc, rate, applied))
                assert applied["noiseSuppression"] is True, applied
                assert applied["echoCancellation"] is True, applied
                assert applied["autoGainControl"] is agc, applied
                # The rate is the outgoing mix's: Chromium captures with processing only at 48 kHz.
                page.wait_for_function("window.PrismStudio.page.mixer() !== null")
                mixed = page.evaluate(
                    "window.PrismStudio.page.mixer().stream.getAudioTracks()[0].getSettings()"
                )
                assert mixed["sampleRate"] == rate, mixed
        assert len(seen) == 2 * len(rates)


PIXELS_JS = """(points) => {
  const c = document.getElementById('program');
  const ctx = c.getContext('2d');
  return points.map(([x, y]) => {
    const d = ctx.getImageData(Math.floor(x * c.width), Math.floor(y * c.height), 1, 1).data;
    return [d[0], d[1], d[2]];
  });
}"""


def probe_pixels(page, points: list[tuple[float, float]]) -> list[list[int]]:
    return page.evaluate(PIXELS_JS, points)


def is_camera(rgb: list[int]) -> bool:
    return all(abs(got - want) <= 24 for got, want in zip(rgb, CAMERA_RGB, strict=True))


# Per layout: (a point that shows the camera, a point that does not).
LAYOUT_POINTS = {
    "camera": ((0.5, 0.5), None),
    "screen": (None, (0.5, 0.5)),
    "corner": ((0.14, 0.85), (0.5, 0.4)),
    "side": ((0.75, 0.5), (0.25, 0.5)),
}


def test_switching_layouts_changes_the_program_canvas(web: Web, red_camera: Path) -> None:
    user, _ = creator("layouts@example.com", PlanName.PRO)
    with chromium_page([f"--use-file-for-fake-video-capture={red_camera}"]) as page:
        open_studio(page, web, user)
        turn_on(page)
        page.click("#share-screen")
        page.wait_for_selector("#stop-screen:visible")
        for layout in ("camera", "screen", "corner", "side", "camera"):
            page.check(f"input[name=layout][value={layout}]")
            shows, hides = LAYOUT_POINTS[layout]
            points = [p for p in (shows, hides) if p]
            expected = [p is shows for p in points]
            page.wait_for_function(
                """([points, expected, rgb]) => { const c = document.getElementById('program');
                const ctx = c.getContext('2d'); return points.every(([x, y], i) => {
                  const d = ctx.getImageData(Math.floor(x * c.width), Math.floor(y * c.height), 1, 1).data;
                  const cam = [0, 1, 2].every((k) => Math.abs(d[k] - rgb[k]) <= 24);
                  return cam === expected[i]; }); }""",
                arg=[points, expected, list(CAMERA_RGB)],
                timeout=10_000,
            )
            assert [is_camera(rgb) for rgb in probe_pixels(page, points)] == expected, layout
        # The name / lower third is drawn over the camera (the layout is "camera" again).
        assert is_camera(probe_pixels(page, [(0.1, 0.85)])[0])
        page.fill("#lower-third", "Ada Lovelace, host")
        page.wait_for_function(
            f"({PIXELS_JS})([[0.1, 0.85]]).every(d => Math.abs(d[0] - {CAMERA_RGB[0]}) > 24)", timeout=5_000
        )


def test_the_mixer_meters_move_with_the_fake_microphone_and_mute_silences_the_master(web: Web) -> None:
    user, _ = creator("meters@example.com", PlanName.PRO)
    with chromium_page() as page:
        open_studio(page, web, user)
        turn_on(page)
        page.wait_for_function(
            "['mic', 'master'].every(n => document.getElementById('meter-' + n).value > 0.2)",
            timeout=15_000,
        )
        assert page.evaluate("document.getElementById('meter-music').value") == 0
        page.check("#mute-mic")
        page.wait_for_function("window.PrismStudio.page.mixer().levels().master < 0.05", timeout=5_000)
        page.uncheck("#mute-mic")
        page.wait_for_function("document.getElementById('meter-master').value > 0.2", timeout=15_000)


RULE_JS = """([plan, steps, times]) => {
  const cfg = window.PrismStudio.page.config;
  let state = {current: "", upSince: null};
  return steps.map(([bw, lim], i) => {
    const d = window.PrismStudio.adaptive.nextPreset(
      state, bw, lim, times[i], plan, cfg.presets, cfg.holdSeconds);
    state = d.state;
    return [d.preset.name, d.changed, d.direction, d.tooSlow, d.upgradeHint, d.state.upSince];
  });
}"""

samples = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=12_000, allow_nan=False, width=32),
        st.sampled_from(["none", "bandwidth", "cpu", "other"]),
        st.floats(min_value=0.25, max_value=15, allow_nan=False, width=32),
    ),
    min_size=1,
    max_size=30,
)


def test_the_pages_adaptive_rule_matches_the_python_one(web: Web) -> None:
    """The page runs its own copy of the rule on the preset table Python renders: they must agree."""
    user, _ = creator("abr@example.com", PlanName.PRO)
    with chromium_page() as page:
        open_studio(page, web, user)

        @hypothesis_settings(max_examples=150, deadline=None)
        @given(st.sampled_from(PRESET_NAMES), samples)
        def agree(plan: str, steps: list[tuple[float, str, float]]) -> None:
            state, now, expected = AbrState(), 0.0, []
            times = []
            for bandwidth, limitation, gap in steps:
                now += gap
                times.append(now)
                decision = next_preset(state, bandwidth, limitation, now, plan)
                state = decision.state
                expected.append(
                    [
                        decision.preset.name,
                        decision.changed,
                        decision.direction,
                        decision.too_slow,
                        decision.upgrade_hint,
                        state.up_since,
                    ]
                )
            got = page.evaluate(RULE_JS, [plan, steps, times])
            assert got == expected

        assert page.evaluate("window.PrismStudio.page.config.holdSeconds") == HOLD_SECONDS
        agree()
