"""core: the state table, hooks and encryption, without Django."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.encryption import InvalidToken, decrypt, encrypt
from core.hooks import Hook
from core.states import IllegalTransition, TransitionTable

TABLE = TransitionTable({"a": {"b"}, "b": {"a", "c"}, "c": set()}, "demo")


def test_the_table_allows_only_its_moves() -> None:
    assert TABLE.allows("a", "b")
    assert not TABLE.allows("a", "c")
    assert not TABLE.allows("unknown", "a")
    TABLE.check("b", "c")
    with pytest.raises(IllegalTransition, match="demo: a -> c"):
        TABLE.check("a", "c")
    assert TABLE.final("c")
    assert not TABLE.final("a")


def test_a_table_refuses_moves_to_states_it_does_not_list() -> None:
    with pytest.raises(ValueError, match="'z'"):
        TransitionTable({"a": {"z"}})


def test_a_hook_calls_each_listener_once_in_order() -> None:
    hook: Hook[[int], int] = Hook("demo")
    assert hook.first(-1, 5) == -1
    assert not hook.any(5)

    def double(n: int) -> int:
        return 2 * n

    hook.register(double)
    hook.register(double)
    hook.register(lambda n: 0)
    assert hook.call(5) == [10, 0]
    assert hook.first(-1, 5) == 10
    assert hook.any(5)


def test_encryption_round_trips_rotates_and_refuses_unknown_keys() -> None:
    old, new, other = (Fernet.generate_key().decode() for _ in range(3))
    token = encrypt("rtmp key", [old])
    assert token != "rtmp key"
    assert decrypt(token, [new, old]) == "rtmp key"
    assert encrypt("", [new]) != ""
    assert decrypt(encrypt("", [new]), [new]) == ""
    with pytest.raises(InvalidToken):
        decrypt(token, [other])
