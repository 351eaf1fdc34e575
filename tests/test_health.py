"""GET /healthz: 200 when PostgreSQL and Redis answer, 503 when either does not."""

from __future__ import annotations

import socket

import pytest
from django.db import connections
from django.test import Client


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_redis_answer(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "pages": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_redis_does_not_answer(client: Client, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "redis": "down", "pages": "ok"}


def test_healthz_is_503_when_the_database_does_not_answer(client: Client, django_db_blocker) -> None:
    connection = connections["default"]
    with django_db_blocker.unblock():
        connection.close()
        original_port = connection.settings_dict["PORT"]
        connection.settings_dict["PORT"] = str(closed_port())
        try:
            response = client.get("/healthz")
        finally:
            connection.close()
            connection.settings_dict["PORT"] = original_port

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down", "redis": "ok", "pages": "ok"}
