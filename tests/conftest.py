"""The fixed cast (owner, stranger) and the fixtures every test module shares."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.models import User

_emails = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(email: str | None = None, *, verified: bool = True, **extra: object) -> User:
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email or f"creator{next(_emails)}@example.com", PASSWORD, **extra)
    EmailAddress.objects.create(user=user, email=user.email, verified=verified, primary=True)
    return user


@pytest.fixture
def owner(db: None) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def stranger(db: None) -> User:
    return make_user("stranger@example.com")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the (Redis) cache: drop this run's keys around every test."""
    yield
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    for key in client.scan_iter(f"{prefix}:*", count=500):
        client.delete(key)
