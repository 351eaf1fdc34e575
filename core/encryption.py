"""Fernet encryption of secrets at rest with rotating keys (newest first). Django-free.

A value under a key that is not listed raises ``InvalidToken``: never ciphertext returned as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "decrypt", "encrypt", "multi_fernet"]


@cache
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def multi_fernet(keys: Sequence[str]) -> MultiFernet:
    return _multi_fernet(tuple(keys))


def encrypt(plaintext: str, keys: Sequence[str]) -> str:
    """``plaintext`` under the newest key."""
    return multi_fernet(keys).encrypt(plaintext.encode()).decode()


def decrypt(token: str, keys: Sequence[str]) -> str:
    """Decrypt with any listed key; raise ``InvalidToken`` otherwise."""
    return multi_fernet(keys).decrypt(token.encode()).decode()
