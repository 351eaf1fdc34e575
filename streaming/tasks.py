"""Celery tasks of the restream engine: take ids, reload, check state, idempotent.

Per-node work (planning, supervisors) goes to the queue ``media.<node>`` of the node whose
ingest took the publish; the reconciler and the viewer poll run from beat on ``default``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_shutting_down
from django import db
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import plan_limits_for
from platforms.targets import PlatformError, viewer_count
from streaming import actions, ingest_control, supervisor
from streaming.models import DestinationStream, Encoder, StreamSession
from streaming.renditions import wait_until_live
from streaming.status import push_session_status, push_to_user
from streaming.workloads import EncoderWorkload, LeasedWorkload, RelayWorkload, local_url

logger = logging.getLogger(__name__)
WARN_BEFORE_LIMIT = timedelta(minutes=5)


@worker_shutting_down.connect
def _stop_supervisors(**_: object) -> None:
    supervisor.SHUTTING_DOWN.set()


@shared_task(name="streaming.tasks.check_source", ignore_result=True)
def check_source(session_id: int) -> None:
    """Probe what the publisher really sends; correct the plan made at publish time if it differs."""
    actions.dequeued("streaming.tasks.check_source", session_id)
    session = StreamSession.objects.filter(pk=session_id).first()
    if session is None or session.state not in StreamSession.ACTIVE or session.source_checked:
        return
    try:
        _check_source(session)
    except Exception:
        # A check that fails is a bug or a broken node: the creator must not stream on a plan
        # nobody verified (the copy relays' ceiling guard would keep refusing) without a word.
        logger.exception("checking the source of session %s failed", session_id)
        actions.fail_session(session_id, "Prism could not start your stream. Please go live again.")


def _check_source(session: StreamSession) -> None:
    session_id = session.pk
    source = wait_until_live(local_url("live", session.stream_name), timeout=10.0)
    with transaction.atomic():
        locked = StreamSession.objects.select_for_update().get(pk=session_id)
        if locked.source_checked or locked.state not in StreamSession.ACTIVE:
            return
        to_start: list[Encoder] = []
        if source is not None:
            # Unknown (no video within 10 s): keep the publish-time plan; the guard still holds.
            destinations = list(locked.destinations.exclude(state__in=DestinationStream.FINISHED))
            to_start = actions.apply_plan(locked, destinations, source)
            locked.source = source.as_json()
        locked.source_checked = True
        locked.save(update_fields=["source", "source_checked"])
        node = locked.node
        transaction.on_commit(lambda: actions.session_went_live(session_id))
        for encoder in to_start:
            transaction.on_commit(lambda pk=encoder.pk: actions.enqueue_supervisor("encoder", pk, node))


def _supervise(task: str, workload: type[LeasedWorkload], pk: int) -> str:
    actions.dequeued(task, pk)  # this message is being worked on: the row may be queued again
    return supervisor.supervise(workload, pk).result


@shared_task(name="streaming.tasks.supervise_destination", ignore_result=True)
def supervise_destination(destination_id: int) -> str:
    return _supervise("streaming.tasks.supervise_destination", RelayWorkload, destination_id)


@shared_task(name="streaming.tasks.supervise_encoder", ignore_result=True)
def supervise_encoder(encoder_id: int) -> str:
    return _supervise("streaming.tasks.supervise_encoder", EncoderWorkload, encoder_id)


@shared_task(name="streaming.tasks.drop_session_streams", ignore_result=True)
def drop_session_streams(session_id: int) -> int:
    """Runs on the session's node (its ``media.<node>`` queue): the control module is loopback-only."""
    session = StreamSession.objects.filter(pk=session_id).first()
    if session is None or session.desired != StreamSession.Desired.STOPPED:
        return 0
    renditions = list(session.encoders.values_list("rendition", flat=True))
    try:
        return ingest_control.drop_session_streams(session.stream_name, renditions)
    except OSError:
        # nginx drops the publisher at its next on_update all the same (the session is not LIVE).
        logger.warning("could not reach this node's nginx-rtmp control module", exc_info=True)
        return 0


@shared_task(name="streaming.tasks.end_platform_stream", ignore_result=True)
def end_platform_stream(destination_id: int) -> None:
    """A destination closed without its supervisor (``actions.finalize_session``)."""
    destination = DestinationStream.objects.filter(pk=destination_id).first()
    if destination is not None:
        actions.end_platform_stream(destination)


@shared_task(name="streaming.tasks.finalize_session", ignore_result=True)
def finalize_session(session_id: int) -> None:
    actions.finalize_session(session_id)


@shared_task(name="streaming.tasks.reconcile", ignore_result=True)
def reconcile() -> dict[str, int]:
    """Bring actual state towards desired state; safe to run any number of times, anywhere."""
    now = timezone.now()
    counts = {"requeued": 0, "ended": 0, "finalized": 0, "warned": 0}
    live_sessions = StreamSession.objects.filter(
        state__in=StreamSession.ACTIVE, desired=StreamSession.Desired.LIVE
    )
    # 0. A destination (or encoder) whose holder is gone: its process is gone with it, so it is
    # reconnecting, not live, from the moment the lease ran out.
    orphaned(DestinationStream, DestinationStream.State.LIVE, DestinationStream.State.CONNECTING, now)
    orphaned(Encoder, Encoder.State.RUNNING, Encoder.State.STARTING, now)
    # 1. A row that should run but whose lease expired (its worker died): queue it on its node
    # (once: a message still waiting on a node whose worker is down is not sent again).
    for kind, model in (("encoder", Encoder), ("destination", DestinationStream)):
        orphans = (
            model.objects.filter(session__in=live_sessions.filter(planned=True), desired="RUN")
            .exclude(state__in=model.FINISHED)
            .filter(model.claimable(now))
            .exclude(lease_owner="", lease_until__gte=now)
            .values_list("pk", "session__node")
        )
        for pk, node in orphans:
            counts["requeued"] += actions.enqueue_supervisor(kind, pk, node)
    # 2. A source check that never happened (the node's worker was down when the publish came).
    stale = now - timedelta(seconds=20)
    unchecked = live_sessions.filter(source_checked=False, started_at__lt=stale)
    for pk, node in unchecked.values_list("pk", "node"):
        actions.queue_once("streaming.tasks.check_source", pk, queue=actions.media_queue(node))
    # 3. Publishers gone for longer than the grace period; 4. the plan's duration limit.
    gone = now - timedelta(seconds=settings.STREAM_RECONNECT_GRACE_SECONDS)
    for pk in live_sessions.filter(publisher_connected=False, publisher_left_at__lt=gone).values_list(
        "pk", flat=True
    ):
        counts["ended"] += actions.end_session(pk, "Your stream from OBS stopped.")
    # The limit was fixed at the start from the plan (``ends_at``); billing moves it on a plan change.
    for session in live_sessions.filter(ends_at__lte=now + WARN_BEFORE_LIMIT).select_related("user"):
        plan = plan_limits_for(session.user)
        assert session.ends_at is not None
        if now >= session.ends_at:
            counts["ended"] += actions.end_session(session.pk, actions.duration_limit_message(plan))
        # Compare-and-set: two reconcilers never warn twice.
        elif StreamSession.objects.filter(pk=session.pk, limit_warned=False).update(limit_warned=True):
            minutes = max(1, round((session.ends_at - now).total_seconds() / 60))
            push_to_user(
                session.user_id,
                {
                    "type": "stream.warning",
                    "session": session.pk,
                    "message": f"Your stream ends in {minutes} minutes ({plan.title} plan limit). "
                    "Upgrade to stream longer.",
                },
            )
            counts["warned"] += 1
    # 5. Sessions being stopped (or failed) whose supervisors are gone.
    sessions = StreamSession.objects
    unfinished = sessions.filter(state=StreamSession.State.ENDING) | sessions.filter(
        state=StreamSession.State.ERROR,
        destinations__state__in=(DestinationStream.State.CONNECTING, DestinationStream.State.LIVE),
    )
    for pk in unfinished.values_list("pk", flat=True).distinct():
        counts["finalized"] += actions.finalize_session(pk)
    return counts


def orphaned(model: type[DestinationStream] | type[Encoder], live: str, waiting: str, now: object) -> int:
    """Rows still ``live`` whose lease ran out: ``waiting`` until a new supervisor has them."""
    moved = 0
    for pk in model.objects.filter(state=live).filter(model.claimable(now)).values_list("pk", flat=True):
        with transaction.atomic():
            row = (
                model.objects.select_for_update()
                .filter(pk=pk, state=live)
                .filter(model.claimable(now))
                .first()
            )
            if row is not None:
                moved += row.transition_to(waiting, "Reconnecting: the media worker holding it stopped")
    return moved


VIEWER_POLL_THREADS = 8


def _viewers_of(dest: DestinationStream) -> int | None:
    try:
        return viewer_count(dest.connection, dest.platform_ref)  # type: ignore[arg-type]
    finally:
        db.connection.close()  # this pool thread's own connection (a token refresh may use it)


@shared_task(name="streaming.tasks.poll_viewers", ignore_result=True)
def poll_viewers() -> int:
    """Store each live destination's viewer count, as its platform reports it.

    The platforms are asked in parallel (a slow one does not hold the others for its timeout);
    a destination whose platform fails or answers nonsense is logged and skipped, never the pass.
    """
    updated = 0
    live = DestinationStream.objects.filter(state=DestinationStream.State.LIVE).select_related("connection")
    # Not filtered on platform_ref: Twitch reports viewers per channel and has none.
    polled = [dest for dest in live if dest.connection is not None]
    with ThreadPoolExecutor(max_workers=VIEWER_POLL_THREADS, thread_name_prefix="viewers") as pool:
        answers = {dest.pk: pool.submit(_viewers_of, dest) for dest in polled}
    for dest in polled:
        try:
            viewers = answers[dest.pk].result()
            if viewers is not None and (
                isinstance(viewers, bool) or not isinstance(viewers, int) or viewers < 0
            ):
                raise ValueError(f"not a viewer count: {viewers!r}")
        except PlatformError as exc:
            logger.warning("viewer count of destination %s: %s", dest.pk, exc.message)
            continue
        except Exception:
            logger.warning("viewer count of destination %s failed", dest.pk, exc_info=True)
            continue
        if viewers != dest.viewer_count:
            DestinationStream.objects.filter(pk=dest.pk).update(viewer_count=viewers)
            push_session_status(dest.session_id)
            updated += 1
    return updated
