"""allauth's per-IP limit on failed logins behind the TLS proxy: every request arrives from the
proxy's address; the client's is the one the proxy appended to X-Forwarded-For."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

PROXY_ADDR = "10.0.0.2"  # what daphne sees for every request behind the proxy
LIMITED = b"Too many failed login attempts"


@pytest.fixture(autouse=True)
def three_failures_per_ip(settings) -> None:
    # Per IP only, so the per-account limit does not mix in.
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}


def through_proxy(client_addr: str, claimed: str = "") -> dict[str, str]:
    """What nginx's proxy_add_x_forwarded_for makes of a request from ``client_addr`` that carried
    its own X-Forwarded-For ``claimed``: the client's claim first, the address the proxy saw last."""
    forwarded = f"{claimed}, {client_addr}" if claimed else client_addr
    return {"REMOTE_ADDR": PROXY_ADDR, "HTTP_X_FORWARDED_FOR": forwarded, "HTTP_X_FORWARDED_PROTO": "https"}


def log_in(client: Client, email: str, password: str, meta: dict[str, str]):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **meta)


def test_two_clients_behind_the_proxy_have_separate_limits(owner: User, stranger: User) -> None:
    # As configured (BEHIND_TLS_PROXY's default): one proxy of ours in front.
    attacker, creator = Client(), Client()
    for _ in range(3):
        assert LIMITED not in log_in(attacker, stranger.email, "wrong", through_proxy("198.51.100.7")).content
    assert LIMITED in log_in(attacker, stranger.email, "wrong", through_proxy("198.51.100.7")).content

    response = log_in(creator, owner.email, PASSWORD, through_proxy("203.0.113.20"))

    assert response.status_code == 302
    assert creator.get(reverse("studio:home"), secure=True).status_code == 200


def test_a_client_cannot_escape_its_limit_by_claiming_another_address(stranger: User) -> None:
    attacker = Client()
    for i in range(3):
        log_in(attacker, stranger.email, "wrong", through_proxy("198.51.100.7", claimed=f"192.0.2.{i}"))

    response = log_in(attacker, stranger.email, "wrong", through_proxy("198.51.100.7", claimed="192.0.2.99"))

    assert LIMITED in response.content


def test_without_a_trusted_proxy_the_header_is_not_trusted(settings, stranger: User) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    attacker = Client()
    for i in range(3):
        log_in(
            attacker,
            stranger.email,
            "wrong",
            {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": f"192.0.2.{i}"},
        )

    response = log_in(
        attacker,
        stranger.email,
        "wrong",
        {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "192.0.2.99"},
    )

    assert LIMITED in response.content


def test_the_documented_deployment_trusts_one_proxy_and_a_bare_one_none() -> None:
    from tests.test_settings import PRODUCTION_ENV, run_django

    script = "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)"
    behind = run_django(["shell", "-c", script], {**PRODUCTION_ENV, "BEHIND_TLS_PROXY": "1"})
    bare = run_django(["shell", "-c", script], {**PRODUCTION_ENV, "BEHIND_TLS_PROXY": "0"})

    assert behind.stdout.splitlines()[-1:] == ["1"], behind.stderr
    assert bare.stdout.splitlines()[-1:] == ["0"], bare.stderr
