"""One supervisor per destination (its relay), rendition (its encoder) or recording, run inside a
media task: the lease runner (``streaming.leases``) around the process state table
(``streaming.supervision``) around a workload (``streaming.workloads``, ``recordings.recorder``).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from streaming import actions
from streaming.leases import LeaseRunner
from streaming.models import StreamSession
from streaming.supervision import Policy, ProcessSupervisor
from streaming.workloads import EncoderWorkload, LeasedWorkload, RelayWorkload

SHUTTING_DOWN = threading.Event()  # set when the media worker shuts down: stop children, free leases


def pause(seconds: float, wake: threading.Event | None = None) -> None:
    """Sleep between checks (``wake``: the process ended, check now). With a connection pool
    (``DB_POOL_MAX_SIZE``) the thread first hands its connection back, so hundreds of supervisors
    share a few; without one it keeps it (closing would mean a new PostgreSQL backend every few
    seconds per supervisor)."""
    if settings.DATABASES["default"].get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()
    if wake is not None:
        wake.wait(seconds)
    else:
        time.sleep(seconds)


def owner_name() -> str:
    return f"{settings.MEDIA_NODE}@{socket.gethostname()}:{threading.get_ident()}"


def policy_from_settings() -> Policy:
    s = settings
    return Policy(
        stall=s.STREAM_STALL_SECONDS,
        start_timeout=s.STREAM_START_TIMEOUT_SECONDS,
        retry_base=s.STREAM_RETRY_BASE_SECONDS,
        max_retries=s.STREAM_MAX_RETRIES,
        healthy_refill=s.STREAM_HEALTHY_REFILL_SECONDS,
        stop_grace=s.STREAM_STOP_GRACE_SECONDS,
    )


@dataclass
class Outcome:
    """What a supervisor ended with (for logs and tests)."""

    result: str
    failures: int = 0


def supervise(workload_type: type[LeasedWorkload], pk: int) -> Outcome:
    """Hold row ``pk`` and its process until it should stop, fails for good, or we lose the lease."""
    model = workload_type.model
    lease = LeaseRunner(
        model,
        pk,
        owner_name(),
        settings.STREAM_LEASE_SECONDS,
        settings.STREAM_HEARTBEAT_SECONDS,
        reads=(workload_type.beat_fields, workload_type.beat_session_fields),
    )
    if not lease.claim(time.monotonic()):
        return Outcome("held elsewhere")
    runner: ProcessSupervisor | None = None
    try:
        workload = workload_type(pk, lease)
        runner = ProcessSupervisor(
            workload,
            lease,
            policy_from_settings(),
            shutting_down=SHUTTING_DOWN,
            failures=workload.row.attempts,
        )
        return Outcome(runner.run(pause), runner.failures)
    finally:
        lease.release()
        finalize_if_ending(model, pk)
        close_old_connections()


def finalize_if_ending(model: type, pk: int) -> None:
    """The last supervisor of a stopping session to let go ends it, without waiting for the reconciler."""
    session_id = model.objects.filter(pk=pk).values_list("session_id", flat=True).first()
    ending = (StreamSession.State.ENDING, StreamSession.State.ERROR)
    if session_id is not None and StreamSession.objects.filter(pk=session_id, state__in=ending).exists():
        actions.finalize_session(session_id)


def supervise_destination(destination_id: int) -> Outcome:
    return supervise(RelayWorkload, destination_id)


def supervise_encoder(encoder_id: int) -> Outcome:
    return supervise(EncoderWorkload, encoder_id)
