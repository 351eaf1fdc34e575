"""Actions of the restream engine: each owns its transaction and queues its side effects."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.models import plan_limits_for
from billing.plans import (
    PlanLimits,
    check_destination_count,
    check_quality,
    check_stream_duration,
    shows_branding,
)
from core.quality import preset_named, session_ceiling
from platforms.actions import Saved, add_custom_destination
from platforms.models import PlatformConnection
from platforms.targets import PlatformError, finish_target
from streaming import hooks
from streaming.models import DestinationStream, Encoder, IngestKey, Leased, StreamSession
from streaming.refusals import (
    ALREADY_LIVE,
    OLD_KEY,
    SERVER_ERROR,
    forget_publish_refused,
    tell_publish_refused,
)
from streaming.renditions import DestinationNeed, SourceInfo, plan_renditions, split_rendition_stream_name

logger = logging.getLogger(__name__)
DEFAULT_TITLE = "Live on Prism"
QUEUED_LEASE_SECONDS = 20.0  # a queued supervisor must claim its row within this, or it is queued again
# A queued task leaves a marker until it starts; while it is there the task is not queued again, so
# a node whose worker is down gets one message per row (and per source check) per this period,
# not one per reconciler pass.
QUEUED_MARKER_SECONDS = 300.0


@dataclass(frozen=True)
class PublishAnswer:
    """``stream_name`` set: accept and rename the stream to it; else refuse with ``reason`` (logged).

    ``readers``: tags of the relays, encoders and recorder started for a new session, which the
    answer waits for (``wait_for_readers``) so they are connected when the first keyframe flows.
    ``session_id``: the session this publish started (None when it resumed one or was refused),
    which ``withdraw_session`` removes if the answer cannot be given after all.
    """

    stream_name: str | None
    reason: str = ""
    readers: tuple[str, ...] = ()
    session_id: int | None = None
    user_id: int | None = None


class PublishRefused(Exception):
    """A refusal the creator can act on: ``message`` is for them, ``upgrade`` adds the upgrade link."""

    def __init__(self, message: str, *, upgrade: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.upgrade = upgrade


def media_queue(node: str) -> str:
    return f"media.{node}"


def queue_task(name: str, args: list[object], **options: object) -> None:
    """Queue the Celery task registered as ``name`` (``options``: queue, countdown...). Task modules
    import the actions they run, so actions name the tasks they queue instead of importing them
    (one direction: tasks -> actions)."""
    current_app.signature(name, args=args, **options).apply_async()


def queued_marker(task: str, pk: int) -> str:
    return f"queued:{task}:{pk}"


def queue_once(task: str, pk: int, **options: object) -> bool:
    """Queue ``task(pk)`` unless a message for it is still waiting (its marker, which the task
    clears when it starts with ``dequeued``). True if queued."""
    if not cache.add(queued_marker(task, pk), 1, timeout=QUEUED_MARKER_SECONDS):
        return False
    queue_task(task, [pk], **options)
    return True


def dequeued(task: str, pk: int) -> None:
    cache.delete(queued_marker(task, pk))


SUPERVISOR_TASKS = {
    "destination": (DestinationStream, "streaming.tasks.supervise_destination"),
    "encoder": (Encoder, "streaming.tasks.supervise_encoder"),
}


def enqueue_supervisor(kind: str, pk: int, node: str) -> bool:
    """Queue a supervisor for a free row on its node; False if a holder or a queued task has it."""
    model, task = SUPERVISOR_TASKS[kind]
    return enqueue_leased(model, pk, task, node)


def enqueue_leased(model: type[Leased], pk: int, task: str, node: str) -> bool:
    """Reserve a free leased row for a task (``mark_queued``) and queue it on ``node``'s media queue,
    unless a message for it is still waiting there."""
    if cache.get(queued_marker(task, pk)) is not None or not model.mark_queued(pk, QUEUED_LEASE_SECONDS):
        return False
    return queue_once(task, pk, queue=media_queue(node))


def start_supervisors(session_id: int) -> tuple[str, ...]:
    """Queue one supervisor per encoder and destination of a session just planned, and, through
    ``hooks.session_planned``, what higher apps start with it (the recorder); returns the reader
    tags those hooks started, which the publish waits for like the relays'."""
    session = StreamSession.objects.get(pk=session_id)
    for pk in session.encoders.values_list("pk", flat=True):
        enqueue_supervisor("encoder", pk, session.node)
    for pk in session.destinations.values_list("pk", flat=True):
        enqueue_supervisor("destination", pk, session.node)
    readers: tuple[str, ...] = ()
    for tags in hooks.session_planned.call(session_id):
        readers += tags
    return readers


def active_connections(user: User) -> list[PlatformConnection]:
    return list(
        PlatformConnection.objects.filter(
            user=user, include_in_stream=True, state=PlatformConnection.State.CONNECTED
        ).order_by("pk")
    )


def stream_ends_at(plan: PlanLimits, started_at: datetime) -> datetime | None:
    """When ``plan``'s duration limit ends a stream that started at ``started_at`` (None: never)."""
    if plan.max_stream_minutes is None:
        return None
    return started_at + timedelta(minutes=plan.max_stream_minutes)


def duration_limit_message(plan: PlanLimits) -> str:
    decision = check_stream_duration(plan, float(plan.max_stream_minutes or 0))
    return decision.message or "Your stream reached its plan's time limit."


def accept_publish(key: str, node: str) -> PublishAnswer:
    """Decide an on_publish: a valid key of a user within plan limits starts (or resumes) a session.

    Every refusal of a known creator is shown in their studio (``streaming.refusals``); a key
    that was theirs before they regenerated it is attributed to them too. A publish that fails
    half-way leaves no session, relay or recording behind, and raises.
    """
    user_id = IngestKey.user_id_for(key)
    if user_id is None:
        previous_owner = IngestKey.user_id_for_previous(key)
        if previous_owner is not None:
            tell_publish_refused(previous_owner, OLD_KEY)
            return PublishAnswer(None, "a replaced ingest key")
        return PublishAnswer(None, "unknown ingest key")
    try:
        answer = _start_or_resume(user_id, node)
    except PublishRefused as refused:
        tell_publish_refused(user_id, refused.message, upgrade=refused.upgrade)
        return PublishAnswer(None, refused.message, user_id=user_id)
    except Exception:
        tell_publish_refused(user_id, SERVER_ERROR)
        raise
    forget_publish_refused(user_id)
    return answer


def _start_or_resume(user_id: int, node: str) -> PublishAnswer:
    user = User.objects.get(pk=user_id)
    grace = settings.STREAM_RECONNECT_GRACE_SECONDS
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user_id).first()  # serialise publishes of one user
        open_session = (
            StreamSession.objects.select_for_update()
            .filter(user=user, state__in=StreamSession.ACTIVE)
            .first()
        )
        if open_session is not None:
            left = open_session.publisher_left_at
            if open_session.publisher_connected:
                logger.info("publish refused: session %s already has a publisher", open_session.pk)
                raise PublishRefused(ALREADY_LIVE)
            if (
                open_session.desired == StreamSession.Desired.LIVE
                and open_session.node == node
                and left is not None
                and (timezone.now() - left).total_seconds() <= grace
            ):
                open_session.publisher_connected = True
                open_session.publisher_left_at = None
                open_session.save(update_fields=["publisher_connected", "publisher_left_at"])
                return PublishAnswer(open_session.stream_name, "resumed", user_id=user_id)
            _end_locked(open_session, "The stream from OBS stopped.")
        plan = plan_limits_for(user)
        connections = active_connections(user)
        decision = check_destination_count(plan, len(connections))
        if decision:
            session, readers = _new_session_locked(user, node, plan, connections)
    if not decision:
        # Refused after the commit: a stale session ended above stays ended.
        raise PublishRefused(decision.message, upgrade=True)
    # Started after the commit (the workers must see the rows), and not as an on_commit hook:
    # a failure here must remove the session, not leave it Starting with half its relays queued.
    try:
        readers += start_supervisors(session.pk)
    except Exception:
        withdraw_session(session.pk)
        raise
    return PublishAnswer(session.stream_name, "started", readers, session_id=session.pk, user_id=user_id)


def _new_session_locked(
    user: User, node: str, plan: PlanLimits, connections: list[PlatformConnection]
) -> tuple[StreamSession, tuple[str, ...]]:
    """Create and plan a session (inside the publish's transaction); returns it and the tags of
    the readers its publish waits for."""
    now = timezone.now()
    session = StreamSession.objects.create(
        user=user,
        started_at=now,
        ends_at=stream_ends_at(plan, now),
        node=node,
        stream_name=StreamSession.new_stream_name(),
        title=hooks.stream_title.first("", user.pk) or DEFAULT_TITLE,
        quality_ceiling=session_ceiling(hooks.preferred_quality.first("", user.pk), plan.max_quality),
        branding=shows_branding(plan),
    )
    # Property 2: exactly one DestinationStream (hence one relay) per active destination.
    DestinationStream.objects.bulk_create(
        DestinationStream(session=session, connection=c, label=str(c), kind=c.kind) for c in connections
    )
    # Plan now, on what this creator is most likely sending, so relays and encoders start
    # while nginx holds the publisher; check_source corrects the plan once the source is
    # probed, and a copy relay refuses a source above its ceiling in the meantime.
    destinations = list(session.destinations.all())
    encoders = apply_plan(session, destinations, predicted_source(user.pk, session.quality_ceiling))
    session.planned = True
    session.save(update_fields=["planned"])
    session_id = session.pk
    transaction.on_commit(
        lambda: queue_task("streaming.tasks.check_source", [session_id], queue=media_queue(node))
    )
    readers = tuple(f"d{d.pk}" for d in destinations if not d.rendition) + tuple(f"e{e.pk}" for e in encoders)
    return session, readers


def abandon_publish(answer: PublishAnswer) -> None:
    """The web could not give an accepting ``answer`` after all (nginx hears 403): remove the
    session it started and tell the creator."""
    if answer.session_id is not None:
        withdraw_session(answer.session_id)
    if answer.user_id is not None:
        tell_publish_refused(answer.user_id, SERVER_ERROR)


def withdraw_session(session_id: int) -> None:
    """A publish that started this session was refused after all: remove the session and
    everything made for it. Queued supervisors then find no row; a running one loses its lease
    at its next heartbeat and kills its process."""
    with transaction.atomic():
        hooks.session_withdrawn.call(session_id)
        StreamSession.objects.filter(pk=session_id).delete()


def predicted_source(user_id: int, ceiling: str) -> SourceInfo:
    """What this creator will most likely publish: what they sent last time (as probed), else a
    source that fits the session's ceiling exactly (a copy when no branding is needed)."""
    last = (
        StreamSession.objects.filter(user_id=user_id, source__isnull=False)
        .order_by("-started_at")
        .values_list("source", flat=True)
        .first()
    )
    return SourceInfo.from_json(last) or SourceInfo.exactly(preset_named(ceiling))


RECORDING_NEED = "recording"


def apply_plan(
    session: StreamSession, destinations: list[DestinationStream], source: SourceInfo | None
) -> list[Encoder]:
    """Make the session's rows follow the plan for ``source``: each destination's rendition ("" for
    a copy) and one running encoder per rendition (unneeded ones asked to stop), including the
    branded rendition a branded session's recording reads. Call inside a transaction holding the
    session; returns the encoders that need a supervisor."""
    needs = [DestinationNeed(d.pk, session.quality_ceiling, session.branding) for d in destinations]
    if hooks.records_branded.any(session):
        # A branded session's recording is made from its branded rendition (the one its
        # destinations read; with no destination, one of its own), never from the clean source.
        needs.append(DestinationNeed(RECORDING_NEED, session.quality_ceiling, True))
    plan = plan_renditions(source, needs)
    for dest in destinations:
        rendition = plan.reads[dest.pk]
        suffix = rendition.suffix if rendition else ""
        if dest.rendition != suffix:
            dest.rendition = suffix
            dest.save(update_fields=["rendition"])
    wanted = {r.suffix for r in plan.renditions}
    existing = {e.rendition: e for e in Encoder.objects.filter(session=session)}
    if needs[-1:] and needs[-1].destination == RECORDING_NEED and existing:
        # A re-plan (check_source) never moves the recording: it started with the stream on the
        # rendition planned at publish time, and a second part of another size would not join
        # into one file. That encoder (the session's first) runs on for the recorder.
        wanted.add(min(existing.values(), key=lambda e: e.pk).rendition)
    to_start: list[Encoder] = []
    for suffix in sorted(wanted):
        encoder = existing.get(suffix)
        if encoder is None:
            to_start.append(
                Encoder.objects.create(
                    session=session, rendition=suffix, source_fps=source.fps if source else None
                )
            )
        elif encoder.desired != "RUN" and encoder.state not in Encoder.FINISHED:
            encoder.desired = "RUN"
            encoder.save(update_fields=["desired"])
            to_start.append(encoder)
    Encoder.objects.filter(session=session).exclude(rendition__in=wanted).update(desired="STOP")
    return to_start


def reader_key(stream_name: str, tag: str) -> str:
    return f"rtmp-reader:{stream_name}:{tag}"


def session_open(stream_name: str) -> bool:
    """Is ``stream_name`` (the opaque name readers play) an open session's?"""
    return StreamSession.objects.filter(stream_name=stream_name, state__in=StreamSession.ACTIVE).exists()


def note_reader(stream_name: str, tag: str) -> None:
    """A tagged reader of ``stream_name`` is connected (what ``wait_for_readers`` waits on)."""
    if tag:
        cache.set(reader_key(stream_name, tag), 1, timeout=120)


def reader_arrived(stream_name: str, tag: str) -> bool:
    """on_play: a local reader (relay ``d<pk>``, encoder ``e<pk>``, or an untagged probe) asks
    for a session's stream. False (refuse) unless the name is an open session's."""
    if not session_open(stream_name):
        return False
    note_reader(stream_name, tag)
    return True


def rendition_readers(name: str) -> tuple[str, ...] | None:
    """The rendition app's on_publish (an encoder publishes ``name``): the reader tags it waits
    for, i.e. the running destinations that read this rendition and what the hooks add (a
    branded recording's recorder); None (refuse) unless ``name`` is an open session's encoder's."""
    parts = split_rendition_stream_name(name)
    if parts is None:
        return None
    stream_name, rendition = parts
    encoder = (
        Encoder.objects.filter(
            session__stream_name=stream_name, session__state__in=StreamSession.ACTIVE, rendition=rendition
        )
        .exclude(state__in=Encoder.FINISHED)
        .first()
    )
    if encoder is None:
        return None
    destinations = DestinationStream.objects.filter(
        session_id=encoder.session_id, rendition=rendition, desired=DestinationStream.Desired.RUN
    ).exclude(state__in=DestinationStream.FINISHED)
    readers = tuple(f"d{pk}" for pk in destinations.values_list("pk", flat=True))
    for tags in hooks.rendition_readers.call(encoder.session_id, rendition):
        readers += tags
    return readers


def rendition_reader_arrived(name: str, tag: str) -> bool:
    """The rendition app's on_play: like ``reader_arrived``, for an open session's rendition."""
    parts = split_rendition_stream_name(name)
    if parts is None or not session_open(parts[0]):
        return False
    note_reader(name, tag)
    return True


def wait_for_readers(stream_name: str, tags: tuple[str, ...], timeout: float) -> int:
    """Hold the on_publish answer until every reader in ``tags`` is connected, at most ``timeout``.

    nginx-rtmp has no GOP cache: a reader that connects after the publisher's first keyframe
    waits for the next one (2 s). Readers connected before the answer (``idle_streams on``)
    get the stream from its first frame. Returns how many of them came in time.
    """
    if timeout <= 0 or not tags:
        return 0
    keys = [reader_key(stream_name, tag) for tag in tags]
    deadline = time.monotonic() + timeout
    while True:
        arrived = len(cache.get_many(keys))
        if arrived == len(keys) or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    if arrived == len(keys):
        # nginx attaches a reader when it reads our on_play answer; let it read that first.
        time.sleep(0.03)
    return arrived


def session_went_live(session_id: int) -> bool:
    """Media flows (a destination went live, or check_source saw the source): STARTING -> LIVE."""
    with transaction.atomic():
        session = StreamSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None or session.state != StreamSession.State.STARTING:
            return False
        return session.transition_to(StreamSession.State.LIVE)


def stream_name_for(name: str, node: str) -> str | None:
    """The session stream name a later callback (publish_done, update) is about.

    nginx-rtmp 1.2.2 renames the stream on our 302 but keeps calling back with the name the
    publisher used, i.e. the ingest key (POST body, loopback): resolve it to the key owner's
    open session on this node. An ``s-`` name (a resumed or renamed stream) is taken as is.
    """
    if name.startswith("s-"):
        return name
    user_id = IngestKey.user_id_for(name)
    if user_id is None:
        return None
    return (
        StreamSession.objects.filter(user_id=user_id, node=node, state__in=StreamSession.ACTIVE)
        .values_list("stream_name", flat=True)
        .first()
    )


def publisher_left(stream_name: str) -> bool:
    """on_publish_done: the session waits for its publisher for the grace period, then ends."""
    updated = StreamSession.objects.filter(stream_name=stream_name, state__in=StreamSession.ACTIVE).update(
        publisher_connected=False, publisher_left_at=timezone.now()
    )
    return updated == 1


def may_keep_publishing(stream_name: str) -> bool:
    """on_update: False drops the publisher (session stopped, over its plan, or unknown)."""
    session = StreamSession.objects.filter(stream_name=stream_name).first()
    if session is None or session.state not in StreamSession.ACTIVE:
        return False
    if session.desired != StreamSession.Desired.LIVE:
        return False
    if session.ends_at is not None and timezone.now() >= session.ends_at:
        end_session(session.pk, duration_limit_message(plan_limits_for(session.user)))
        return False
    return True


def _end_locked(session: StreamSession, reason: str, state: str = StreamSession.State.ENDING) -> None:
    session.desired = StreamSession.Desired.STOPPED
    session.save(update_fields=["desired"])
    session.destinations.exclude(state__in=DestinationStream.FINISHED).update(
        desired=DestinationStream.Desired.STOP
    )
    session.encoders.update(desired="STOP")
    if session.state in StreamSession.ACTIVE:
        session.transition_to(state, reason)
    session_id, node = session.pk, session.node
    # Disconnect OBS and the session's readers now, on the node that holds them: OBS sees the
    # stream end, and every relay, encoder and recorder ends at once (docs/decisions.md).
    transaction.on_commit(
        lambda: queue_task("streaming.tasks.drop_session_streams", [session_id], queue=media_queue(node))
    )
    transaction.on_commit(lambda: queue_task("streaming.tasks.finalize_session", [session_id], countdown=1))


def end_session(session_id: int, reason: str) -> bool:
    """Ask every supervisor of the session to stop (SIGINT, then SIGKILL); the session goes ENDING → ENDED."""
    with transaction.atomic():
        session = StreamSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None or session.state not in StreamSession.ACTIVE:
            return False
        _end_locked(session, reason)
    return True


def fail_session(session_id: int, reason: str) -> bool:
    """The session cannot go on: stop every supervisor and end it in ERROR with ``reason`` for the creator."""
    with transaction.atomic():
        session = StreamSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None or session.state not in StreamSession.ACTIVE:
            return False
        _end_locked(session, reason, StreamSession.State.ERROR)
    return True


def fail_session_if_no_destination_left(session_id: int) -> bool:
    """Every destination of the session ended in ERROR: nothing is being streamed, so the session
    is in ERROR too (the publisher is dropped at its next on_update). True if it was ended."""
    destinations = DestinationStream.objects.filter(session_id=session_id)
    failed = destinations.filter(state=DestinationStream.State.ERROR)
    errors = list(failed.values_list("error_message", flat=True))
    if not errors or destinations.exclude(state=DestinationStream.State.ERROR).exists():
        return False
    detail = errors[0] if len(set(errors)) == 1 else "see each destination"
    return fail_session(session_id, f"None of your destinations could be reached ({detail}).")


def stop_session(session_id: int) -> bool:
    return end_session(session_id, "Stopped.")


def end_platform_stream(destination: DestinationStream) -> None:
    """A destination is over for good: end the per-stream object it created on the platform
    (complete the YouTube broadcast, end the Facebook live video). A platform that refuses is
    logged (its message holds no key or token) and changes nothing here."""
    if not destination.platform_ref or destination.connection_id is None:
        return
    connection = PlatformConnection.objects.filter(pk=destination.connection_id).first()
    if connection is None:
        return
    try:
        finish_target(connection, destination.platform_ref)
    except PlatformError as exc:
        logger.warning(
            "destination %s: could not end the stream on %s: %s", destination.pk, connection.kind, exc.message
        )


def finalize_session(session_id: int) -> bool:
    """Close what no supervisor holds any more; True once every destination and encoder is finished.

    An ENDING session then becomes ENDED; a session in ERROR stays in ERROR (it is final).
    """
    now = timezone.now()
    with transaction.atomic():
        session = StreamSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None or session.state not in (StreamSession.State.ENDING, StreamSession.State.ERROR):
            return False
        free = DestinationStream.claimable(now)
        for dest in session.destinations.filter(free).exclude(state__in=DestinationStream.FINISHED):
            dest.transition_to(DestinationStream.State.DISCONNECTED, "Stream ended.")
            if dest.platform_ref:
                # Its supervisor is gone (a media worker died): nobody else ends the YouTube
                # broadcast or Facebook live video it created.
                transaction.on_commit(
                    lambda pk=dest.pk: queue_task("streaming.tasks.end_platform_stream", [pk])
                )
        for enc in session.encoders.filter(Encoder.claimable(now)).exclude(state__in=Encoder.FINISHED):
            enc.transition_to(Encoder.State.STOPPED)
        busy = session.destinations.exclude(state__in=DestinationStream.FINISHED).exists() or (
            session.encoders.exclude(state__in=Encoder.FINISHED).exists()
        )
        if busy:
            return False
        if session.state == StreamSession.State.ENDING:
            session.transition_to(StreamSession.State.ENDED)
    return True


def end_sessions_over_plan(user_id: int) -> int:
    """End (with a message) the user's live sessions that the user's current plan no longer covers.

    Called by billing after a plan drops or lapses. Returns how many were ended.
    """
    ended = 0
    for session in StreamSession.objects.filter(user_id=user_id, state__in=StreamSession.ACTIVE):
        plan = plan_limits_for(session.user)
        # The duration limit follows the plan the user holds now (an upgrade lifts it).
        session.ends_at = stream_ends_at(plan, session.started_at)
        session.save(update_fields=["ends_at"])
        count = session.destinations.exclude(state__in=DestinationStream.FINISHED).count()
        for decision in (
            check_destination_count(plan, count),
            check_quality(plan, session.quality_ceiling),
            check_stream_duration(plan, session.minutes_streamed),
        ):
            if not decision:
                ended += end_session(session.pk, decision.message)
                break
        else:
            if shows_branding(plan) and not session.branding:
                ended += end_session(
                    session.pk, f"Your {plan.title} plan shows Prism branding: go live again."
                )
    return ended


def enforce_plan_on_live_sessions(user_id: int, limits: PlanLimits) -> list[str]:
    """billing's plan enforcer for live streams: end those the plan no longer covers (a second run finds
    them ended already)."""
    ended = end_sessions_over_plan(user_id)
    return [f"{ended} live stream(s) over the plan's limits were ended."] if ended else []


def regenerate_ingest_key(user: User) -> IngestKey:
    return IngestKey.regenerate(user)


def add_local_test_destination(user: User) -> Saved:
    """A CUSTOM destination pushing to this node's own `sink` app (previewable as HLS).

    Saved through the same plan check as any destination: beyond the plan it is saved switched off
    (``Saved.refused`` says why), never switched on past the limit."""
    name = "test-" + secrets.token_hex(6)
    return add_custom_destination(
        user.pk,
        f"Local test destination {name[5:]}",
        f"rtmp://127.0.0.1:{settings.RTMP_PORT}/sink",
        name,
        include=True,
    )
