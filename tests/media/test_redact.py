"""core.redaction.redact: no stream key or credential survives in text we store or print."""

from __future__ import annotations

import pytest

from core.redaction import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl", "rtmp://a.rtmp.youtube.com/live2/<redacted>"),
        (
            "rtmps://live-api-s.facebook.com:443/rtmp/FB-123?s_bl=1&s_sc=9&a=Ab",
            "rtmps://live-api-s.facebook.com:443/rtmp/<redacted>?<redacted>",
        ),
        ("rtmp://host/app/", "rtmp://host/app/"),
        ("rtmp://host/KEY", "rtmp://host/<redacted>"),
        ("rtmp://user:pw@host/app/key", "rtmp://<redacted>@host/app/<redacted>"),
        ("https://example.com/hook?token=abc", "https://example.com/hook?<redacted>"),
        ("http://127.0.0.1:8000/rtmp/on_publish/", "http://127.0.0.1:8000/rtmp/on_publish/"),
        (
            "[rtmp] Cannot open connection tcp://127.0.0.1:1935?listen&key=1",
            "[rtmp] Cannot open connection tcp://127.0.0.1:1935?<redacted>",
        ),
        (
            "Errno 32 Broken pipe: 'rtmp://127.0.0.1:1/app/live_123_abc'",
            "Errno 32 Broken pipe: 'rtmp://127.0.0.1:1/app/<redacted>'",
        ),
        ("no url here", "no url here"),
    ],
)
def test_it_redacts_keys_queries_and_credentials(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_secrets_are_redacted_even_outside_urls() -> None:
    assert redact("Server error: bad key live_123_abc", secrets=("live_123_abc",)) == (
        "Server error: bad key <redacted>"
    )


def test_every_url_in_a_long_text_is_redacted() -> None:
    text = "in rtmp://127.0.0.1/live/s-1 out rtmps://x.twitch.tv/app/live_9_Z and rtmp://y/app/K2"
    assert redact(text) == (
        "in rtmp://127.0.0.1/live/<redacted> out rtmps://x.twitch.tv/app/<redacted> and rtmp://y/app/<redacted>"
    )
