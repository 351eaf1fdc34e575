"""streaming.supervision: the state table of one supervised process, on a fake clock, with real
short processes (a shell that prints one progress block and waits, one that fails, one silent).

Each scenario names the moves it must make; together they cover every move of PROCESS_MOVES.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from core.leases import LeaseLost
from core.states import IllegalTransition
from streaming.processes import Child
from streaming.supervision import PROCESS_MOVES, Phase, Policy, ProcessSupervisor, Unusable

W, S, R, B, X, D, F = (
    Phase.WAITING,
    Phase.STARTING,
    Phase.RUNNING,
    Phase.BACKING_OFF,
    Phase.STOPPING,
    Phase.STOPPED,
    Phase.FAILED,
)
STREAMS = [
    "sh",
    "-c",
    'printf "frame=1\\nout_time_us=1000\\ntotal_size=10\\nprogress=continue\\n"; exec sleep 30',
]
FAILS = ["sh", "-c", "echo 'Connection refused' >&2; exit 3"]
SILENT = ["sleep", "30"]
POLICY = Policy(stall=3, start_timeout=10, retry_base=4, max_retries=2, healthy_refill=60, stop_grace=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeLease:
    beat: bool = False  # due at every step when True
    holds: bool = True

    def due(self, now: float) -> bool:
        return self.beat

    def next_due(self) -> float:
        return float("inf")

    def renew(self, now: float) -> bool:
        return self.holds

    @contextlib.contextmanager
    def keep_alive(self) -> Iterator[None]:
        yield

    def check(self) -> None:
        pass


@dataclass
class FakeWorkload:
    """Flags a test flips; every event the supervisor reports is recorded in ``events``."""

    clock: Clock
    argv: list[list[str]] = field(default_factory=lambda: [STREAMS])
    name: str = "fake"
    tick_every: float | None = None
    stop: bool = False
    publisher: bool = True
    blocked_by: str | None = None
    unusable: str | None = None
    fenced_writes: bool = False
    source: str = "rtmp://in/1"
    events: list[tuple[object, ...]] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    def refresh(self) -> None:
        pass

    def renewed(self) -> None:
        pass

    def should_stop(self) -> bool:
        return self.stop

    def ready(self) -> bool:
        return self.publisher

    def blocked(self) -> str | None:
        return self.blocked_by

    def input(self) -> str:
        return self.source

    def publisher_gone(self) -> bool:
        return not self.publisher

    def input_missing(self) -> bool:
        return not self.publisher

    def source_unchecked(self) -> bool:
        return False

    def prepare(self) -> None:
        if self.unusable:
            raise Unusable(self.unusable)

    def spawn(self) -> Child:
        argv = self.argv.pop(0) if len(self.argv) > 1 else self.argv[0]
        child = Child(argv, clock=self.clock)
        self.children.append(child)
        return child

    def _write(self, *event: object) -> None:
        if self.fenced_writes:
            raise LeaseLost("taken")
        self.events.append(event)

    def tick(self, now: float) -> None:
        pass

    def record_pid(self, pid: int) -> None:
        self._write("pid", pid)

    def record_attempts(self, attempts: int) -> None:
        self._write("attempts", attempts)

    def went_live(self) -> None:
        self._write("live")

    def retrying(self, category: str, message: str) -> None:
        self._write("retrying", category)

    def failed(self, category: str, message: str) -> None:
        self._write("failed", category, message)

    def stopped(self) -> None:
        self._write("stopped")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[ProcessSupervisor, FakeWorkload]]]:
    made: list[ProcessSupervisor] = []

    def build(clock: Clock, **flags: object) -> tuple[ProcessSupervisor, FakeWorkload]:
        lease = FakeLease(beat=bool(flags.pop("beat", False)), holds=bool(flags.pop("holds", True)))
        policy = flags.pop("policy", POLICY)
        workload = FakeWorkload(clock, **flags)  # type: ignore[arg-type]
        sup = ProcessSupervisor(workload, lease, policy, clock=clock)  # type: ignore[arg-type]
        made.append(sup)
        return sup, workload

    yield build
    for sup in made:  # no process outlives its test
        if sup.child is not None:
            sup.child.kill()


def step_until(sup: ProcessSupervisor, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Step (the fake clock stands still) until ``done``: real processes need real time to print or exit."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"stuck in {sup.phase}, history {sup.history}"
        sup.step()
        time.sleep(0.01)


def running(sup: ProcessSupervisor) -> None:
    step_until(sup, lambda: sup.phase == R)


# Each scenario's moves, checked by the scenario itself; the union must be the whole table.
SCENARIO_MOVES: dict[str, set[tuple[Phase, Phase]]] = {
    "start_run_stop": {(W, S), (S, R), (R, X), (X, D)},
    "backoff_then_retry": {(S, B), (B, S)},
    "budget_spent_while_running": {(R, B), (S, F)},
    "refill": {(R, F)},
    "publisher_leaves": {(R, W), (W, X)},
    "publisher_leaves_while_starting": {(S, W)},
    "unusable": {(S, F)},
    "blocked": {(W, F), (B, F)},
    "stop_while_backing_off_or_starting": {(B, X), (S, X)},
}


def test_the_scenarios_cover_every_move_of_the_table() -> None:
    table = {(a, b) for a, targets in PROCESS_MOVES.moves.items() for b in targets}
    assert set().union(*SCENARIO_MOVES.values()) == table


def test_a_move_the_table_forbids_is_refused(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, _ = make(clock)
    with pytest.raises(IllegalTransition):
        sup.move(R)


def test_start_run_stop(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock)
    sup.step()
    assert sup.phase == S
    running(sup)
    assert ("live",) in work.events
    work.stop = True
    sup.step()
    assert sup.phase == D
    assert sup.outcome == "stopped"
    assert work.events[-1] == ("stopped",)
    assert work.children[0].poll() is not None  # SIGINT, then SIGKILL after the grace
    assert SCENARIO_MOVES["start_run_stop"] <= set(sup.history)


def test_a_failed_start_backs_off_then_retries_after_the_wait(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    sup, work = make(clock, argv=[FAILS, FAILS, STREAMS])
    step_until(sup, lambda: sup.phase == B)
    assert ("retrying", "internal") in work.events
    assert ("attempts", 1) in work.events
    # The first retry is (almost) at once; the second waits retry_base.
    clock.now += POLICY.retry_base * 0.25 + 0.01
    step_until(sup, lambda: sup.phase == B and sup.failures == 2)
    sup.step()
    assert sup.phase == B  # the fake clock has not moved: still waiting
    clock.now += POLICY.retry_base * 1.25 + 0.01
    running(sup)
    assert sup.failing_streak == 0
    assert SCENARIO_MOVES["backoff_then_retry"] <= set(sup.history)


def test_a_process_that_keeps_dying_spends_the_budget_and_fails(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    sup, work = make(clock, argv=[STREAMS, FAILS])
    running(sup)
    work.children[0].kill()  # dies while running: replaced at once, then FAILS until the budget is spent
    deadline = time.monotonic() + 15
    while sup.phase != F:
        assert time.monotonic() < deadline, sup.history
        sup.step()
        clock.now += 10
        time.sleep(0.01)
    assert sup.failures == POLICY.max_retries + 1
    assert work.events[-1][0] == "failed"
    assert SCENARIO_MOVES["budget_spent_while_running"] <= set(sup.history)


def test_the_budget_refills_after_a_healthy_stretch(clock: Clock, make: Callable[..., tuple]) -> None:
    # The fake process prints progress once: no stall limit in this test, the clock jumps a minute.
    policy = Policy(
        stall=1e6, start_timeout=1e6, retry_base=0, max_retries=1, healthy_refill=60, stop_grace=1
    )
    sup, work = make(clock, argv=[STREAMS], policy=policy)
    running(sup)
    work.children[-1].kill()
    step_until(sup, lambda: sup.phase == R and sup.failures == 1)
    clock.now += 59
    sup.step()
    assert sup.failures == 1  # not healthy long enough yet
    clock.now += 1
    sup.step()
    assert sup.failures == 0
    assert work.events[-1] == ("attempts", 0)
    # With the budget refilled, one more failure is a retry, not the end; without, it would fail.
    work.children[-1].kill()
    step_until(sup, lambda: sup.phase == R and sup.failures == 1)
    # A second failure within the stretch spends the budget: RUNNING -> FAILED.
    work.children[-1].kill()
    step_until(sup, lambda: sup.phase == F)
    assert SCENARIO_MOVES["refill"] <= set(sup.history)


def test_a_stalled_process_is_killed_and_replaced(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock, argv=[SILENT, STREAMS])
    sup.step()
    assert sup.phase == S
    clock.now += POLICY.start_timeout + 1
    sup.step()
    assert sup.phase == B
    assert ("retrying", "stalled") in work.events
    assert work.children[0].poll() is not None


def test_a_slow_start_is_given_the_start_timeout_not_the_stall_limit(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    policy = Policy()  # production's: a 2 s stall limit, 15 s to show the first progress
    assert policy.stall < policy.start_timeout
    sup, work = make(clock, argv=[SILENT], policy=policy)
    sup.step()
    assert sup.phase == S
    clock.now += policy.start_timeout - 0.5  # long past the stall limit, no progress yet
    sup.step()
    assert sup.phase == S
    assert work.children[0].poll() is None
    clock.now += 1
    sup.step()
    assert sup.phase == B
    assert ("retrying", "stalled") in work.events


def test_the_publisher_leaving_waits_without_spending_the_budget(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    sup, work = make(clock, beat=True)
    running(sup)
    work.publisher = False
    sup.step()
    assert sup.phase == W
    assert sup.failures == 0
    assert work.children[0].poll() is not None
    work.stop = True
    sup.step()
    assert sup.phase == D
    assert SCENARIO_MOVES["publisher_leaves"] <= set(sup.history)


def test_the_publisher_leaving_while_starting(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock, argv=[SILENT], beat=True)
    sup.step()
    assert sup.phase == S
    work.publisher = False
    sup.step()
    assert sup.phase == W
    assert SCENARIO_MOVES["publisher_leaves_while_starting"] <= set(sup.history)


def test_a_replanned_input_restarts_the_process_without_a_failure(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    sup, work = make(clock, beat=True)
    running(sup)
    work.source = "rtmp://in/2"
    sup.step()
    assert sup.phase in (W, S)
    assert sup.failures == 0
    running(sup)
    assert len(work.children) == 2


def test_an_unusable_workload_fails_at_once(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock, unusable="Twitch needs to be reconnected.")
    sup.step()
    assert sup.phase == F
    assert work.children == []
    assert work.events == [("failed", "internal", "Twitch needs to be reconnected.")]
    assert SCENARIO_MOVES["unusable"] <= set(sup.history)


def test_a_blocked_workload_fails_while_waiting_or_backing_off(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    sup, _work = make(clock, blocked_by="the encoder failed")
    sup.step()
    assert sup.phase == F
    sup2, work2 = make(clock, argv=[FAILS])
    step_until(sup2, lambda: sup2.phase == B)
    work2.blocked_by = "the encoder failed"
    sup2.step()
    assert sup2.phase == F
    assert {(W, F), (B, F)} <= set(sup.history) | set(sup2.history)


def test_stop_while_backing_off_or_starting(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock, argv=[FAILS])
    step_until(sup, lambda: sup.phase == B)
    work.stop = True
    sup.step()
    assert sup.phase == D
    sup2, work2 = make(clock, argv=[SILENT])
    sup2.step()
    work2.stop = True
    sup2.step()
    assert sup2.phase == D
    assert work2.children[0].poll() is not None
    assert SCENARIO_MOVES["stop_while_backing_off_or_starting"] <= set(sup.history) | set(sup2.history)


def test_a_fenced_supervisor_kills_its_process_and_writes_nothing(
    clock: Clock, make: Callable[..., tuple]
) -> None:
    sup, work = make(clock, beat=True)
    running(sup)
    events = list(work.events)
    sup.lease.holds = False  # type: ignore[attr-defined]
    sup.step()
    assert sup.phase == D
    assert sup.outcome == "fenced"
    assert work.children[0].poll() is not None
    assert work.events == events


def test_a_write_refused_by_the_lease_stops_the_supervisor(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock, argv=[FAILS])
    work.fenced_writes = True
    step_until(sup, lambda: sup.finished)
    assert sup.outcome == "fenced"
    assert work.events == []


def test_shutdown_stops_the_process(clock: Clock, make: Callable[..., tuple]) -> None:
    sup, work = make(clock)
    running(sup)
    sup.shutting_down.set()
    sup.step()
    assert sup.phase == D
    assert sup.outcome == "worker shutting down"
    assert work.children[0].poll() is not None
