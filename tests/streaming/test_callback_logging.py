"""A callback that fails is answered 403 and logged with its traceback, redacted (never the key)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from tests.streaming.test_callbacks import ON_PUBLISH, keyed, publish_form, with_destinations  # noqa: F401
from tests.test_health import closed_port


def test_a_failing_callback_logs_its_traceback_without_the_key(
    client: Client,
    owner: User,
    keyed: str,  # noqa: F811 - the fixture imported above
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with_destinations(owner, 1)
    # Redis (the cache the publish waits on for its readers) is down.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    settings.STREAM_PUBLISH_HOLD_SECONDS = 0.2
    response = client.post(ON_PUBLISH, publish_form(keyed))
    assert response.status_code == 403
    failures = [r for r in caplog.records if "callback failed" in r.getMessage()]
    assert len(failures) == 1
    logged = failures[0].getMessage()
    assert "Traceback (most recent call last)" in logged
    assert "ConnectionError" in logged
    assert keyed not in caplog.text
