"""Hooks: how a lower app lets a higher one act without importing it.

The lower app declares a hook; the higher app registers into it from its ``AppConfig.ready()``.
The import then goes one way only (docs/decisions.md, "One direction").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Hook(Generic[P, R]):
    """Listeners called in registration order; ``call`` returns their results.

    Registering the same function twice keeps one (``ready()`` may run more than once in tests).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[P, R]] = []

    def register(self, listener: Callable[P, R]) -> Callable[P, R]:
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def call(self, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        return [listener(*args, **kwargs) for listener in self._listeners]

    def any(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """True when a listener answers truthily (no listener: False)."""
        return any(listener(*args, **kwargs) for listener in self._listeners)

    def first(self, default: R, *args: P.args, **kwargs: P.kwargs) -> R:
        """The first listener's answer, or ``default`` when none is registered."""
        return self._listeners[0](*args, **kwargs) if self._listeners else default
