"""Secrets at rest: a text field encrypted with MultiFernet (``core.encryption``), and key rotation.

Keys come from settings.FIELD_ENCRYPTION_KEYS, newest first. New values are encrypted with the
newest key; any listed key decrypts. A value under a key that is not listed raises
``InvalidToken`` (never returns ciphertext as if it were plaintext). NULL stays NULL; every
other value, the empty string included, is encrypted and round-trips exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError
from django.db import models, transaction

from core import encryption


def encrypt(plaintext: str) -> str:
    return encryption.encrypt(plaintext, settings.FIELD_ENCRYPTION_KEYS)


def decrypt(token: str) -> str:
    return encryption.decrypt(token, settings.FIELD_ENCRYPTION_KEYS)


class EncryptedTextField(models.TextField):
    """A TextField stored as a Fernet token. Not searchable: only ``isnull`` lookups are allowed."""

    description = "Text encrypted at rest with MultiFernet"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt(str(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise FieldError(f"Encrypted fields cannot be searched with '{lookup_name}'.")
        return super().get_lookup(lookup_name)


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def rotate_all(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value under the newest key. Safe to run again; returns rows per model."""
    rotated: dict[str, int] = {}
    for model, names in encrypted_fields():
        count = 0
        pks = list(model._default_manager.values_list("pk", flat=True).order_by("pk"))
        for start in range(0, len(pks), batch_size):
            with transaction.atomic():
                for row in model._default_manager.select_for_update().filter(
                    pk__in=pks[start : start + batch_size]
                ):
                    # Loading decrypted with any listed key; saving encrypts with the newest one.
                    row.save(update_fields=names)
                    count += 1
        rotated[model._meta.label] = count
    return rotated
