"""Every log record is redacted when it is made: message, arguments and traceback (config installs it)."""

from __future__ import annotations

import logging

import pytest

from core.redaction import redact_secrets


def test_urllib3_request_lines_and_tracebacks_are_logged_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("urllib3.connectionpool")
    log.debug(
        '%s://%s:%s "%s %s %s" %s',
        "https",
        "api.twitch.tv",
        443,
        "GET",
        "/helix?token=abc123",
        "HTTP/1.1",
        200,
    )
    try:
        raise RuntimeError("could not push to rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl")
    except RuntimeError:
        logging.getLogger("prism.test").exception("failed with Bearer ya29.secretvalue123")
    text = caplog.text
    for secret in ("abc123", "abcd-efgh-ijkl", "ya29.secretvalue123"):
        assert secret not in text
    assert "Traceback" in text
    assert "rtmp://a.rtmp.youtube.com/live2/<redacted>" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefgh12345", "Authorization: Bearer <redacted>"),
        ('{"access_token": "tok-123456", "x": 1}', '{"access_token": "<redacted>", "x": 1}'),
        (
            "refresh_token=1//xyz&grant_type=refresh_token",
            "refresh_token=<redacted>&grant_type=refresh_token",
        ),
        ("stream_key=live_abc", "stream_key=<redacted>"),
    ],
)
def test_secrets_outside_urls_are_redacted(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected
