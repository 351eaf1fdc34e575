"""The browser studio live over WHIP when something goes wrong, all real and on loopback (daphne,
nginx-rtmp, the media worker, ``manage.py whip_server``, headless Chromium):

- a camera and then a microphone go away while live. Chromium itself ends the capture: the test
  withdraws the page's camera (then microphone) permission over CDP (``Browser.setPermission``
  denied), Chromium stops that capture source and fires ``ended`` on its track, the event a device
  unplugged or switched off fires. The page is not touched.
- a publish refused after the WHIP POST got 201: the test holds the 201 (Playwright's route
  fetches the real answer), switches a second destination on for the Free user, then lets the page
  have the answer; the page connects, the WHIP server publishes into nginx-rtmp and the engine's
  on_publish refuses it for the plan, as it does when the plan changes in that window.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from billing.plans import PlanName
from platforms.models import PlatformConnection
from streaming.models import StreamSession
from studio.models import StudioSettings
from tests.browser import chromium_page
from tests.rtmp_stack import FFMPEG, SinkServer, wait_until
from tests.streaming.conftest import add_sink_destination, creator, relay_pids, session_of, wait_for
from tests.studio.test_browser_studio_e2e import StudioStack, diagnosis, studio_stack  # noqa: F401
from tests.studio.test_browser_studio_media import open_studio

pytestmark = pytest.mark.django_db(transaction=True)

SENT_VIDEO_BYTES_JS = """async () => {
  const session = window.PrismStudio.page.session();
  if (!session) return -1;
  let bytes = 0;
  (await session.pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video") bytes = s.bytesSent;
  });
  return bytes;
}"""


@pytest.fixture
def music_wav(tmp_path: Path) -> Path:
    path = tmp_path / "music.wav"
    argv = [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=2", str(path)]
    subprocess.run(argv, check=True)
    return path


def revoke(page, origin: str, permission: str) -> None:
    """Withdraw a permission the page holds: Chromium stops that capture and ends its track."""
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Browser.setPermission", {"permission": {"name": permission}, "setting": "denied", "origin": origin}
    )


def test_a_camera_and_a_microphone_that_go_away_while_live_are_explained_and_the_stream_goes_on(
    studio_stack: StudioStack,  # noqa: F811
    music_wav: Path,
) -> None:
    user, _ = creator("unplugged@example.com", PlanName.PRO)
    StudioSettings.set_preferred_quality(user.pk, "480p")  # a light stream: this test is about devices
    with SinkServer(record=False) as sink, chromium_page() as page:
        add_sink_destination(user, sink.url("key-1"), "sink")
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        open_studio(page, studio_stack, user)
        page.click("#start-devices")
        page.wait_for_function("(t => t.microphone && t.camera)(window.PrismStudio.page.tracks)")
        page.click("#share-screen")
        page.wait_for_selector("#stop-screen:visible")
        page.check("input[name=layout][value=corner]")
        page.set_input_files("#music-file", str(music_wav))
        page.wait_for_function("document.getElementById('meter-music').value > 0.2", timeout=10_000)
        page.click("#go-live")
        try:
            page.wait_for_selector("#session-state[data-state=LIVE]", timeout=45_000)
        except Exception:
            raise AssertionError(diagnosis(page, studio_stack, console)) from None

        revoke(page, studio_stack.url, "camera")
        page.wait_for_function(
            "document.getElementById('device-message').textContent.includes('Your camera stopped')"
        )
        message = page.inner_text("#device-message")  # in the page, not the console
        assert "You are still live" in message, message
        assert "Your viewers see your screen only" in message, message
        assert "Plug it back in or choose another camera" in message, message
        # The program goes on without the camera: the screen alone, and the picker says so.
        assert page.evaluate("window.PrismStudio.page.compositor.layout()") == "screen"
        assert page.is_checked("input[name=layout][value=screen]")

        revoke(page, studio_stack.url, "microphone")
        page.wait_for_function(
            "document.getElementById('device-message').textContent.includes('Your microphone stopped')"
        )
        message = page.inner_text("#device-message")
        assert "Your camera stopped" in message, message  # both problems stay shown
        assert "Your viewers hear only your screen audio and music" in message, message
        # The mix goes on without the microphone: its meter falls silent, the music still plays out.
        page.wait_for_function(
            "document.getElementById('meter-mic').value === 0"
            " && document.getElementById('meter-master').value > 0.2",
            timeout=10_000,
        )

        # Still live and still sending: the page keeps publishing the program, the engine keeps the session.
        before = page.evaluate(SENT_VIDEO_BYTES_JS)
        assert before > 0, diagnosis(page, studio_stack, console)
        page.wait_for_function(f"({SENT_VIDEO_BYTES_JS})().then(b => b > {before} + 100000)", timeout=20_000)
        assert page.get_attribute("#session-state", "data-state") == "LIVE"
        assert session_of(user).state == StreamSession.State.LIVE  # type: ignore[union-attr]
        assert b"ended" not in studio_stack.whip_log.read_bytes()

        page.click("#studio-stop")
        page.wait_for_selector("#session-state[data-state=ENDED]", timeout=30_000)
        wait_for(lambda: not relay_pids(), 15, "every relay gone")


def test_a_publish_refused_after_the_whip_answer_shows_why_with_the_upgrade_link_and_never_live(
    studio_stack: StudioStack,  # noqa: F811
) -> None:
    user, _ = creator("refused-whip@example.com", PlanName.FREE)
    PlatformConnection.objects.create(
        user=user, kind="CUSTOM", name="sink 1", rtmp_url="rtmp://127.0.0.1:1/app", stream_key="k1"
    )  # as many as Free allows: the WHIP POST's own plan check lets it through
    with chromium_page() as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        answered: list[int] = []

        def hold_the_answer(route) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            response = route.fetch()
            answered.append(response.status)
            if response.status == 201:
                PlatformConnection.objects.create(
                    user=user,
                    kind="CUSTOM",
                    name="sink 2",
                    rtmp_url="rtmp://127.0.0.1:1/app",
                    stream_key="k2",
                )
            route.fulfill(response=response)

        page.route("**/whip", hold_the_answer)
        open_studio(page, studio_stack, user)
        page.evaluate(
            """window.seenStates = [];
            const badge = document.getElementById('session-state');
            new MutationObserver(() => window.seenStates.push(badge.dataset.state))
              .observe(badge, {attributes: true});"""
        )
        page.click("#start-devices")
        page.wait_for_function("(t => t.microphone && t.camera)(window.PrismStudio.page.tracks)")
        page.click("#go-live")
        try:
            page.wait_for_selector("#studio-ended:visible", timeout=45_000)
        except Exception:
            raise AssertionError(f"answers {answered}; {diagnosis(page, studio_stack, console)}") from None
        assert answered == [201]

        # By the Go live button: why, and the way out.
        shown = page.inner_text("#studio-ended-message")
        assert shown.startswith("Not live: "), shown
        assert "destination" in shown.lower(), shown
        upgrade = page.locator("#studio-ended-upgrade")
        assert upgrade.is_visible()
        assert upgrade.get_attribute("href").endswith("/pricing/")
        assert page.locator("#publish-refused").is_visible()  # the live panel says it too
        # The studio stopped sending and offers Go live again; it never showed Live or Starting.
        page.wait_for_function("window.PrismStudio.page.session() === null")
        assert page.get_attribute("#browser-studio", "data-publishing") == "false"
        assert page.is_visible("#go-live")
        assert page.is_enabled("#go-live")
        assert not page.is_visible("#studio-stop")
        assert "live" not in page.inner_text("#go-live-state").lower()
        assert page.get_attribute("#session-state", "data-state") == "NONE"
        assert not {"STARTING", "LIVE"} & set(page.evaluate("window.seenStates"))
        assert session_of(user) is None

        # The WHIP session ended with the engine's reason, not a bare closed connection.
        reason = b"ended: The ingest refused the publish: "
        if not wait_until(lambda: reason in studio_stack.whip_log.read_bytes(), 15):
            raise AssertionError(f"no refusal in the WHIP log: {studio_stack.whip_log.read_text()[-2000:]}")
        ended = next(
            line for line in studio_stack.whip_log.read_text().splitlines() if "refused the publish:" in line
        )
        assert "destination" in ended.lower(), ended
