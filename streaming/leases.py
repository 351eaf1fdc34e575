"""The lease runner: claim a leased row, heartbeat it, make every write under its token, release it.

A supervisor never writes its row (or acts for it) without the token it claimed: a holder that
was fenced off (the reconciler gave the row to another supervisor) gets ``LeaseLost`` from the
first write it tries and changes nothing. Slow work (a platform call that can outlast the lease)
runs inside ``keep_alive()``, which heartbeats from a second thread meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from django.db import connection

from core.leases import HeartbeatSchedule, LeaseLost
from streaming.models import Leased

logger = logging.getLogger(__name__)


class LeaseRunner:
    """One claim of one row. ``token`` is None until ``claim()`` won."""

    def __init__(
        self,
        model: type[Leased],
        pk: int,
        owner: str,
        seconds: float,
        heartbeat: float,
        reads: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
    ) -> None:
        self.model, self.pk, self.owner = model, pk, owner
        self.seconds = seconds
        self.schedule = HeartbeatSchedule(heartbeat)
        self.token: int | None = None
        self._lost = threading.Event()
        # Fields of the row and of its session each heartbeat reads back (``Leased.heartbeat_reading``)
        # and what the last one read: a supervisor's beat is one statement.
        self.reads = reads
        self.read: dict[str, object] = {}

    @property
    def name(self) -> str:
        return f"{self.model.__name__} {self.pk}"

    def claim(self, now: float) -> bool:
        self.token = self.model.claim(self.pk, self.owner, self.seconds)
        if self.token is not None:
            self.schedule.renewed(now)
        return self.token is not None

    def due(self, now: float) -> bool:
        return self.schedule.due(now)

    def next_due(self) -> float:
        return self.schedule.next_at

    def renew(self, now: float) -> bool:
        """Heartbeat, reading ``reads`` into ``read``; False (and every later write refused) once
        another holder has the row."""
        read = None
        if not self._lost.is_set():
            read = self.model.heartbeat_reading(self.pk, self._token(), self.seconds, *self.reads)
        if read is None:
            self._lost.set()
            return False
        self.read = read
        self.schedule.renewed(now)
        return True

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def _token(self) -> int:
        if self.token is None:
            raise LeaseLost(f"{self.name}: not claimed")
        return self.token

    def fencing_token(self) -> int:
        """The token a write made elsewhere must match (``recordings.actions``); LeaseLost once lost."""
        self.check()
        return self._token()

    def rows(self) -> Any:
        """The row as a queryset that matches only while we hold it."""
        return self.model.objects.filter(pk=self.pk, lease_token=self._token())

    def update(self, **fields: object) -> None:
        """A fenced write of ``fields``; LeaseLost if another holder has the row."""
        if self._lost.is_set() or self.rows().update(**fields) != 1:
            self._lost.set()
            raise LeaseLost(f"{self.name}: lease {self.token} lost")

    def transition(self, row: Any, state: str, message: str = "", **values: object) -> bool:
        """``row.transition_to`` under our token (``StateMachine``); LeaseLost if fenced off."""
        if self._lost.is_set():
            raise LeaseLost(f"{self.name}: lease {self.token} lost")
        try:
            return bool(row.transition_to(state, message, lease_token=self._token(), **values))
        except LeaseLost:
            self._lost.set()
            raise

    def check(self) -> None:
        """Raise LeaseLost if the keep-alive thread (or a write) found the row taken."""
        if self._lost.is_set():
            raise LeaseLost(f"{self.name}: lease {self.token} lost")

    @contextlib.contextmanager
    def keep_alive(self) -> Iterator[None]:
        """Heartbeat from a helper thread while the body runs (a platform call can outlast the
        lease); LeaseLost after the body if the row was taken meanwhile."""
        done = threading.Event()

        def beat() -> None:
            try:
                while not done.wait(self.schedule.every):
                    if not self.model.heartbeat(self.pk, self._token(), self.seconds):
                        self._lost.set()
                        return
            except Exception:
                logger.exception("%s: heartbeat during slow work failed", self.name)
            finally:
                connection.close()  # this thread's own connection (or back to the pool)

        thread = threading.Thread(target=beat, name=f"keep-alive {self.name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
        self.check()

    def release(self) -> None:
        if self.token is not None:
            self.model.release(self.pk, self.token)
