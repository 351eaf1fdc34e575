"""Celery tasks of recordings: ids in, rows reloaded, idempotent (the lease decides who works)."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from recordings import actions
from recordings.models import Recording
from recordings.recorder import RecorderWorkload
from streaming.actions import QUEUED_LEASE_SECONDS, dequeued, media_queue
from streaming.models import StreamSession
from streaming.supervisor import supervise


@shared_task(name="recordings.tasks.supervise_recording", ignore_result=True)
def supervise_recording(recording_id: int) -> str:
    """Hold the recorder until the session ends, the quota is reached or it fails; then finalise."""
    dequeued("recordings.tasks.supervise_recording", recording_id)
    outcome = supervise(RecorderWorkload, recording_id)
    if outcome.result in ("stopped", "failed"):
        actions.finalize_recording(recording_id)
    return outcome.result


@shared_task(name="recordings.tasks.finalize_recording", ignore_result=True)
def finalize_recording(recording_id: int) -> bool:
    return actions.finalize_recording(recording_id)


@shared_task(name="recordings.tasks.reconcile_recordings", ignore_result=True)
def reconcile_recordings() -> dict[str, int]:
    """Restart recorders that lost their worker; finalise recordings nobody holds whose stream is over."""
    now = timezone.now()
    counts = {"requeued": 0, "finalizing": 0}
    free = (
        Recording.objects.filter(state=Recording.State.RECORDING)
        .filter(Recording.claimable(now))
        .exclude(lease_owner="", lease_until__gte=now)
    )
    live = Q(
        session__state__in=StreamSession.ACTIVE,
        session__desired=StreamSession.Desired.LIVE,
        desired=Recording.Desired.RUN,
    )
    for pk, node in free.filter(live).values_list("pk", "session__node"):
        counts["requeued"] += actions.enqueue_recorder(pk, node)
    for pk, node in free.exclude(live).values_list("pk", "session__node"):
        if Recording.mark_queued(pk, QUEUED_LEASE_SECONDS):
            finalize_recording.apply_async(args=[pk], queue=media_queue(node) if node else "default")
            counts["finalizing"] += 1
    return counts
