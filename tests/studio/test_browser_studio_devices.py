"""What the browser studio says when a device cannot be used, in a real headless Chromium.

Each condition is produced in the browser itself, never by poking the page:
- blocked: Chromium launched without ``--use-fake-ui-for-media-stream``, so nobody accepts the
  permission prompt and getUserMedia rejects with NotAllowedError; Playwright then grants the
  camera alone (the microphone stays blocked);
- missing: Chromium launched without ``--use-fake-device-for-media-stream`` (headless has no real
  devices), so getUserMedia rejects with NotFoundError;
- unplugged while live: tests/studio/test_browser_studio_refusals.py (the WHIP stack).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.browser import chromium_page
from tests.streaming.conftest import creator
from tests.studio.test_browser_studio_media import Web, open_studio, web  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

FAKE_UI = "--use-fake-ui-for-media-stream"
FAKE_DEVICES = "--use-fake-device-for-media-stream"


def device_message(page, starting: str) -> str:
    """The device message in the page (not the console), once it starts with ``starting``."""
    page.wait_for_function(
        "(start) => document.getElementById('device-message').textContent.startsWith(start)", arg=starting
    )
    assert page.is_visible("#device-message")
    return page.inner_text("#device-message")


@contextlib.contextmanager
def devices_turned_on(web: Web, email: str, without: str) -> Iterator[object]:  # noqa: F811
    """A creator's studio in a Chromium launched without the flag ``without``, devices asked for."""
    user, _ = creator(email)
    with chromium_page(without=[without]) as page:
        open_studio(page, web, user)
        page.click("#start-devices")
        yield page


def test_a_blocked_camera_and_microphone_say_how_to_allow_them_and_the_page_goes_on_with_what_is_allowed(
    web: Web,  # noqa: F811
) -> None:
    with devices_turned_on(web, "blocked@example.com", FAKE_UI) as page:
        message = device_message(page, "The browser blocked your camera and microphone")
        assert "Allow them for this site" in message, message
        assert "share your screen" in message, message  # what can still go out
        assert page.evaluate("window.PrismStudio.page.tracks") == {"camera": None, "microphone": None}
        assert page.get_attribute("#browser-studio", "data-devices") == "off"

        # The creator allows the camera only: it goes on, and the page says what the microphone lacks.
        page.context.grant_permissions(["camera"], origin=web.url)
        page.click("#start-devices")
        page.wait_for_function("window.PrismStudio.page.tracks.camera !== null")
        message = device_message(page, "The browser blocked your microphone")
        assert "Allow it for this site" in message, message
        assert "hear only your screen audio and music" in message, message
        assert "your camera" not in message, message
        assert "Camera off" not in message, message
        assert page.evaluate("window.PrismStudio.page.tracks.microphone") is None
        assert page.get_attribute("#browser-studio", "data-devices") == "on"


def test_no_camera_or_microphone_says_so_and_go_live_asks_for_something_to_show(
    web: Web,  # noqa: F811
) -> None:
    with devices_turned_on(web, "nodevice@example.com", FAKE_DEVICES) as page:
        message = device_message(page, "No camera and microphone found")
        assert "Plug them in" in message, message
        assert page.inner_text("#camera-select") == "No camera found"
        assert page.inner_text("#mic-select") == "No microphone found"
        assert page.is_disabled("#camera-select")
        page.click("#go-live")
        device_message(page, "Turn on your camera or share your screen first")
        assert page.get_attribute("#browser-studio", "data-publishing") is None  # nothing was sent
