"""CPU of one supervisor heartbeat in the media worker's process, on real PostgreSQL: the renewal
that reads back what the loop decides on (one statement, ``Leased.heartbeat_reading``) beside the
former two (a fenced UPDATE, then the row and its session re-read with ``select_related``). Not part
of the suite; it prints numbers and asserts nothing about them.

    DB_POOL_MAX_SIZE=3 .venv/bin/pytest bench/heartbeat_cost.py -s -q -p no:xdist

Each beat is followed by ``pause(0)``, which hands the connection back to the pool as the
supervisor does between heartbeats. ``PROFILE=1`` adds a cProfile of the one-statement beat.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from collections.abc import Callable

import pytest

from accounts.models import User
from streaming.leases import LeaseRunner
from streaming.models import DestinationStream
from streaming.supervisor import pause
from streaming.workloads import RelayWorkload
from tests.conftest import owner  # noqa: F401 - fixture
from tests.streaming.test_races import custom, live_session

pytestmark = pytest.mark.django_db(transaction=True)
BEATS = int(os.environ.get("BEATS", "500"))


def test_bench_heartbeat_cost(owner: User) -> None:  # noqa: F811
    dest = DestinationStream.objects.get(session=live_session(owner, [custom(owner)]))
    reads = (RelayWorkload.beat_fields, RelayWorkload.beat_session_fields)
    lease = LeaseRunner(DestinationStream, dest.pk, "bench", 8, 2, reads=reads)
    assert lease.claim(0.0)
    work = RelayWorkload(dest.pk, lease)

    def one_statement() -> None:
        assert lease.renew(0.0)
        work.renewed()

    def two_queries() -> None:
        assert DestinationStream.heartbeat(dest.pk, lease.fencing_token(), 8)
        work.refresh()

    def per_beat(beat: Callable[[], None]) -> float:
        started = time.process_time()
        for _ in range(BEATS):
            beat()
            work.should_stop()
            pause(0)
        return (time.process_time() - started) / BEATS * 1000

    for _ in range(2):  # the second round is the one to read (warm caches)
        new, old = per_beat(one_statement), per_beat(two_queries)
    print(f"\nCPU per heartbeat, {BEATS} beats, load average {os.getloadavg()[0]:.2f}:")
    print(f"    UPDATE ... RETURNING (one statement): {new:.3f} ms")
    print(f"    UPDATE, then select_related re-read:  {old:.3f} ms ({old / new:.1f}x)")
    if os.environ.get("PROFILE"):
        profile = cProfile.Profile()
        profile.runcall(per_beat, one_statement)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(20)
