"""Encryption at rest: MultiFernet round-trips, refuses unknown keys, and rotates to the newest key."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection as db

from accounts.models import User
from platforms.models import PlatformConnection

pytestmark = pytest.mark.django_db


def raw(pk: int, column: str = "stream_key") -> str:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM platforms_platformconnection WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_rows_under_an_old_key_are_readable_after_rotation_and_no_longer_need_it(
    settings, owner: User
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    row = PlatformConnection.objects.create(
        user=owner,
        kind="CUSTOM",
        name="S",
        rtmp_url="rtmp://x/app",
        stream_key="k-123456789",
        access_token="",
    )
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()

    call_command("rotate_encryption_keys", stdout=out)

    assert "Rotated 1 row(s) under the newest key." in out.getvalue()
    assert Fernet(new.encode()).decrypt(raw(row.pk).encode()) == b"k-123456789"
    settings.FIELD_ENCRYPTION_KEYS = [new]
    fresh = PlatformConnection.objects.get(pk=row.pk)
    assert fresh.stream_key == "k-123456789"
    assert fresh.access_token == ""
    call_command("rotate_encryption_keys", stdout=io.StringIO())  # safe to run again
    assert PlatformConnection.objects.get(pk=row.pk).stream_key == "k-123456789"


def test_a_value_under_a_key_no_longer_listed_raises(settings, owner: User) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    row = PlatformConnection.objects.create(user=owner, kind="CUSTOM", name="S", stream_key="secret-key-1")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(InvalidToken):
        PlatformConnection.objects.get(pk=row.pk)
