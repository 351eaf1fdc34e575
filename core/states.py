"""Explicit state machines: a table of allowed moves and one check every change goes through."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class IllegalTransition(Exception):
    pass


class TransitionTable:
    """Allowed moves ``state -> {next states}``; ``check`` refuses anything else.

    A state with no entry is unknown (refused as a start); a state whose set is empty is final.
    """

    def __init__(self, moves: Mapping[str, Iterable[str]], name: str = "") -> None:
        self.moves: dict[str, frozenset[str]] = {str(k): frozenset(map(str, v)) for k, v in moves.items()}
        self.name = name
        unknown = {t for targets in self.moves.values() for t in targets} - set(self.moves)
        if unknown:
            raise ValueError(f"{name}: moves to states without an entry: {sorted(unknown)}")

    def __getitem__(self, state: str) -> frozenset[str]:
        return self.moves[state]

    def allows(self, previous: str, state: str) -> bool:
        return state in self.moves.get(previous, frozenset())

    def check(self, previous: str, state: str, what: object = "") -> None:
        if not self.allows(previous, state):
            raise IllegalTransition(f"{what or self.name}: {previous} -> {state}")

    def final(self, state: str) -> bool:
        return not self.moves[state]
