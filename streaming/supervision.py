"""Supervising one process: an explicit state table, and the loop that follows it. Django-free.

Built like datarhei/core's process manager (``process/process.go``): the phases and the moves
between them are a table, one method changes the phase, and what the process serves is behind
an interface (``Workload``) the supervisor knows nothing else of. The lease (``Lease``) is the
one thing datarhei does not need: every write a workload makes goes through it, and a holder
that lost it stops at once (``LeaseLost``).

Phases: WAITING for input (the publisher, or the encoder a relay reads) -> STARTING (slow
preparation, then the process, until its progress first moves) -> RUNNING -> on a failure
BACKING_OFF (exponential, with jitter; the first retry after a healthy run at once) and back to
STARTING, or FAILED once the retry budget is spent; the budget refills after a healthy stretch.
STOPPING (SIGINT, then SIGKILL) -> STOPPED when the row should stop, the worker shuts down or the
lease is lost. A failure of the input while the publisher is away is not the process's fault:
back to WAITING without spending the budget.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from core.leases import LeaseLost
from core.states import TransitionTable

logger = logging.getLogger(__name__)
INPUT_CATEGORIES = ("input_unavailable", "input_ended")
OVER_CEILING = "input_over_ceiling"


class Phase(StrEnum):
    WAITING = "waiting for input"
    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing off"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


P = Phase
PROCESS_MOVES = TransitionTable(
    {
        P.WAITING: {P.STARTING, P.STOPPING, P.FAILED},
        P.STARTING: {P.RUNNING, P.BACKING_OFF, P.WAITING, P.STOPPING, P.FAILED},
        P.RUNNING: {P.BACKING_OFF, P.WAITING, P.STOPPING, P.FAILED},
        P.BACKING_OFF: {P.STARTING, P.STOPPING, P.FAILED},
        P.STOPPING: {P.STOPPED},
        P.STOPPED: set(),
        P.FAILED: set(),
    },
    "supervised process",
)


class Process(Protocol):
    """A running child (``streaming.processes.Child``); ``exited`` is set when it has ended."""

    pid: int
    exited: threading.Event
    last_advance: float | None
    stderr_tail: list[str]

    def poll(self) -> int | None: ...
    def stalled(self, now: float, stall: float, start_timeout: float) -> bool: ...
    def failure(self) -> tuple[str, str]: ...
    def kill(self) -> None: ...
    def stop(self, grace: float) -> None: ...


class Unusable(Exception):
    """The workload cannot be started at all (no target, a platform refusal): fail for good."""


class Workload(Protocol):
    """What a supervised process serves: a relay (destination), an encoder, a recorder.

    Predicates never change anything; the event methods write through the workload's lease.
    """

    name: str
    # While the process runs, how often ``tick`` needs a step (None: only when something is due).
    tick_every: float | None

    def refresh(self) -> None:
        """Read the row again (after a failure, before a decision)."""

    def renewed(self) -> None:
        """The lease was just renewed: take in what changed that the loop decides on (the
        renewal read it in the same statement; nothing else runs between heartbeats)."""

    def should_stop(self) -> bool: ...
    def ready(self) -> bool:
        """Its input can be read now (the publisher is there, the encoder it reads runs)."""

    def blocked(self) -> str | None:
        """Why it can never start (e.g. the encoder it reads failed), or None."""

    def input(self) -> str:
        """The secret-free URL the process reads; a change (a re-plan) restarts the process."""

    def publisher_gone(self) -> bool: ...
    def input_missing(self) -> bool:
        """An input failure now is not this process's fault: its publisher or encoder is away."""

    def source_unchecked(self) -> bool:
        """Over the ceiling before the source was checked: the plan is about to change."""

    def prepare(self) -> None:
        """Slow work before the first start (platform calls), run with the lease kept alive;
        raise Unusable to fail for good."""

    def spawn(self) -> Process:
        """Start the process (raise Unusable if it cannot be built)."""

    def tick(self, now: float) -> None:
        """Upkeep while the process runs (the recorder measures what it wrote); may write."""

    def record_pid(self, pid: int) -> None: ...
    def record_attempts(self, attempts: int) -> None: ...
    def went_live(self) -> None: ...
    def retrying(self, category: str, message: str) -> None: ...
    def failed(self, category: str, message: str) -> None: ...
    def stopped(self) -> None: ...


class Lease(Protocol):
    """``streaming.leases.LeaseRunner``, or a stand-in in unit tests."""

    def due(self, now: float) -> bool: ...
    def next_due(self) -> float:
        """When the next heartbeat is due (the supervisor's clock)."""

    def renew(self, now: float) -> bool: ...
    def keep_alive(self) -> AbstractContextManager[None]: ...
    def check(self) -> None: ...


@dataclass(frozen=True)
class Policy:
    stall: float = 2.0
    start_timeout: float = 15.0
    retry_base: float = 1.0
    max_retries: int = 3
    healthy_refill: float = 60.0
    stop_grace: float = 5.0
    poll: float = 0.25


def backoff_seconds(failures: int, base: float, rng: random.Random | None = None) -> float:
    """The wait before retry number ``failures``: the first at once (a frozen or dropped process
    is replaced within the stall limit), then base, 2*base, 4*base...; every wait gets up to
    25 % of base (or of itself) as jitter so many destinations do not retry in step."""
    jitter = (rng or random).random() * 0.25
    if failures <= 1:
        return base * jitter
    return base * (2 ** (failures - 2)) * (1 + jitter)


@dataclass
class ProcessSupervisor:
    """One workload's process under one lease. ``step()`` makes one decision; ``run()`` loops."""

    workload: Workload
    lease: Lease
    policy: Policy
    clock: Callable[[], float] = time.monotonic
    shutting_down: threading.Event = field(default_factory=threading.Event)
    rng: random.Random | None = None
    phase: Phase = Phase.WAITING
    failures: int = 0  # the retry budget spent (refilled after a healthy stretch)
    # Failures since the process last streamed: they set the backoff. A process that had been
    # streaming and then failed (froze, dropped) is replaced at once.
    failing_streak: int = 0
    child: Process | None = None
    child_input: str = ""
    next_start: float = 0.0
    healthy_since: float | None = None
    outcome: str = ""
    history: list[tuple[Phase, Phase]] = field(default_factory=list)

    def move(self, to: Phase) -> None:
        """The only place the phase changes; a move the table forbids is a bug (IllegalTransition)."""
        if to == self.phase:
            return
        PROCESS_MOVES.check(self.phase, to, self.workload.name)
        self.history.append((self.phase, to))
        self.phase = to

    @property
    def finished(self) -> bool:
        return PROCESS_MOVES.final(self.phase)

    def run(self, pause: Callable[[float, threading.Event | None], None] | None = None) -> str:
        wait = pause or (lambda seconds, wake: wake.wait(seconds) if wake else time.sleep(seconds))
        try:
            while not self.finished:
                self.step()
                if not self.finished:
                    child = self.child
                    wait(self.idle_seconds(self.clock()), child.exited if child is not None else None)
        finally:
            if self.child is not None:
                self.child.kill()
                self.child = None
        return self.outcome

    def idle_seconds(self, now: float) -> float:
        """How long the loop may sleep. Starting or waiting: ``poll``. Running: until the next thing
        that can happen is due (a heartbeat, the stall limit, the budget's refill, the workload's
        tick), the process's exit waking it earlier; a healthy stream costs a few wake-ups a lease
        instead of four a second (the supervisor's own CPU, docs/performance.md)."""
        child = self.child
        if self.phase != Phase.RUNNING or child is None or child.last_advance is None:
            return self.policy.poll
        due = [self.lease.next_due(), child.last_advance + self.policy.stall]
        if self.failures and self.healthy_since is not None:
            due.append(self.healthy_since + self.policy.healthy_refill)
        if self.workload.tick_every is not None:
            due.append(now + self.workload.tick_every)
        return min(max(min(due) - now, 0.01), self.policy.stall)

    def step(self) -> None:
        try:
            self._step(self.clock())
        except LeaseLost:
            # Another supervisor holds the row now: never let two processes push, write nothing.
            if self.finished:
                self.outcome = "fenced"
            else:
                self._end("fenced", kill=True)

    def _end(self, outcome: str, *, kill: bool = False) -> None:
        self.move(Phase.STOPPING)
        if self.child is not None:
            self.child.kill() if kill else self.child.stop(self.policy.stop_grace)
            self.child = None
        self.outcome = outcome
        self.move(Phase.STOPPED)

    def _drop_child(self, *, graceful: bool) -> None:
        if self.child is not None:
            self.child.stop(self.policy.stop_grace) if graceful else self.child.kill()
        self.child, self.healthy_since, self.next_start = None, None, 0.0

    def _step(self, now: float) -> None:
        w = self.workload
        if self.shutting_down.is_set():
            self._end("worker shutting down")
            return
        if self.lease.due(now):
            if not self.lease.renew(now):
                self._end("fenced", kill=True)
                return
            w.renewed()
            if self.child is not None and w.publisher_gone():
                # The publisher left (on_publish_done). With idle_streams on, nginx keeps our
                # readers waiting instead of closing them: stop now, start again when it is back.
                self._drop_child(graceful=False)
                self.move(Phase.WAITING)
            elif self.child is not None and w.input() != self.child_input:
                logger.info("%s re-planned: restarting on its new input", w.name)
                self._drop_child(graceful=True)
                self.move(Phase.WAITING)
        if w.should_stop():
            self._end("stopped")
            w.stopped()
            return
        if self.child is None:
            self._maybe_start(now)
        else:
            self._watch(now)

    def _maybe_start(self, now: float) -> None:
        w = self.workload
        problem = w.blocked()
        if problem is not None:
            self._fail("internal", problem)
            return
        if now < self.next_start or not w.ready():
            return
        self.move(Phase.STARTING)
        try:
            with self.lease.keep_alive():
                w.prepare()
            self.child = w.spawn()
        except Unusable as exc:
            self._fail("internal", str(exc))
            return
        self.child_input = w.input()
        w.record_pid(self.child.pid)

    def _fail(self, category: str, message: str) -> None:
        self.workload.failed(category, message)
        self.outcome = "failed"
        self.move(Phase.FAILED)

    def _watch(self, now: float) -> None:
        w, child, policy = self.workload, self.child, self.policy
        assert child is not None
        code = child.poll()
        stalled = code is None and child.stalled(now, policy.stall, policy.start_timeout)
        if code is None and not stalled:
            w.tick(now)
            if self.phase == Phase.STARTING and child.last_advance is not None:
                self.move(Phase.RUNNING)
                self.healthy_since, self.failing_streak = now, 0
                w.went_live()
            elif (
                self.phase == Phase.RUNNING
                and self.failures
                and self.healthy_since is not None
                and now - self.healthy_since >= policy.healthy_refill
            ):
                self.failures = 0
                w.record_attempts(0)
            return
        if stalled:
            child.kill()
            category, message = "stalled", "no progress"
        else:
            category, message = child.failure()
        # For ops: what the process said last (redacted), beside the category below.
        logger.info("%s stderr: %s", w.name, " | ".join(child.stderr_tail[-8:]))
        self.child, self.healthy_since = None, None
        w.refresh()
        if w.should_stop():
            return  # the next step stops
        if (category in INPUT_CATEGORIES or stalled) and w.input_missing():
            self.move(Phase.WAITING)  # the publisher (or encoder) is away: no budget spent
            return
        if category == OVER_CEILING and w.source_unchecked():
            # Above the ceiling of the copy planned at publish time: check_source is about to
            # move this destination to a rendition.
            self.next_start = now + policy.poll
            self.move(Phase.WAITING)
            return
        self.failures += 1
        self.failing_streak += 1
        w.record_attempts(self.failures)
        logger.info("%s failed (%s: %s), failure %s", w.name, category, message, self.failures)
        if self.failures > policy.max_retries:
            self._fail(category, message)
            return
        w.retrying(category, message)
        self.next_start = now + backoff_seconds(self.failing_streak, policy.retry_base, self.rng)
        self.move(Phase.BACKING_OFF)
