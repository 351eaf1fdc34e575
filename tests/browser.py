"""Debian's Chromium driven by Playwright: the fixtures browser tests share.

Never lets Playwright download a browser: it launches /usr/bin/chromium with the flags this
machine needs (no network but loopback, fake camera and microphone for the studio).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


@contextlib.contextmanager
def chromium_page(extra_args: Sequence[str] = (), without: Sequence[str] = ()) -> Iterator[object]:
    """A page of a fresh headless Chromium profile; ``extra_args`` e.g. a fake camera's y4m file;
    ``without``: default flags to leave out (no fake devices, no auto-accepted permission prompt)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still sequential, so Django's async guard can stand down.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with tempfile.TemporaryDirectory(prefix="prism-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=[*(a for a in CHROMIUM_ARGS if a not in without), *extra_args],
        )
        context.set_default_timeout(15_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_page() -> Iterator[object]:
    with chromium_page() as page:
        yield page
