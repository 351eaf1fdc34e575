"""Actions of the restream engine: each owns its transaction and queues its side effects."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from platforms.models import PlatformConnection
from streaming.models import DestinationStream, Encoder, IngestKey, StreamSession
from streaming.quality import preset_named, session_ceiling
from streaming.renditions import DestinationNeed, SourceInfo, plan_renditions
from studio.models import StudioSettings

logger = logging.getLogger(__name__)
DEFAULT_TITLE = "Live on Prism"


@dataclass(frozen=True)
class PublishAnswer:
    """``stream_name`` set: accept and rename the stream to it; else refuse with ``reason`` (logged).

    ``readers``: tags of the relays and encoders started for a new session, which the answer
    waits for (``wait_for_readers``) so they are connected when the first keyframe flows.
    """

    stream_name: str | None
    reason: str = ""
    readers: tuple[str, ...] = ()


def media_queue(node: str) -> str:
    return f"media.{node}"


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
    """Decide an on_publish: a valid key of a user within plan limits starts (or resumes) a session."""
    user_id = IngestKey.user_id_for(key)
    if user_id is None:
        return PublishAnswer(None, "unknown ingest key")
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
                return PublishAnswer(None, f"session {open_session.pk} already has a publisher")
            if (
                open_session.desired == StreamSession.Desired.LIVE
                and open_session.node == node
                and left is not None
                and (timezone.now() - left).total_seconds() <= grace
            ):
                open_session.publisher_connected = True
                open_session.publisher_left_at = None
                open_session.save(update_fields=["publisher_connected", "publisher_left_at"])
                return PublishAnswer(open_session.stream_name, "resumed")
            _end_locked(open_session, "The stream from OBS stopped.")
        plan = plan_limits_for(user)
        connections = active_connections(user)
        decision = check_destination_count(plan, len(connections))
        if not decision:
            return PublishAnswer(None, decision.message)
        now = timezone.now()
        session = StreamSession.objects.create(
            user=user,
            started_at=now,
            ends_at=stream_ends_at(plan, now),
            node=node,
            stream_name=StreamSession.new_stream_name(),
            title=StudioSettings.next_title_of(user.pk) or DEFAULT_TITLE,
            quality_ceiling=session_ceiling(StudioSettings.preferred_quality_of(user.pk), plan.max_quality),
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
        from streaming.tasks import check_source, start_supervisors

        transaction.on_commit(lambda: start_supervisors(session.pk))
        check_source.apply_async_on_commit(args=[session.pk], queue=media_queue(node))
        readers = tuple(f"d{d.pk}" for d in destinations if not d.rendition) + tuple(
            f"e{e.pk}" for e in encoders
        )
    return PublishAnswer(session.stream_name, "started", readers)


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
    from recordings.actions import records_branded

    if records_branded(session):
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


def reader_arrived(stream_name: str, tag: str) -> bool:
    """on_play: a local reader (relay ``d<pk>``, encoder ``e<pk>``, or an untagged probe) asks
    for a session's stream. False (refuse) unless the name is an open session's."""
    if not session_open(stream_name):
        return False
    if tag:
        cache.set(reader_key(stream_name, tag), 1, timeout=120)
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
    from streaming.tasks import finalize_session

    finalize_session.apply_async_on_commit(args=[session.pk], countdown=1)


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


def regenerate_ingest_key(user: User) -> IngestKey:
    return IngestKey.regenerate(user)


def add_local_test_destination(user: User) -> PlatformConnection:
    """A CUSTOM destination pushing to this node's own `sink` app (previewable as HLS)."""
    name = "test-" + secrets.token_hex(6)
    return PlatformConnection.objects.create(
        user=user,
        kind=PlatformConnection.Kind.CUSTOM,
        name=f"Local test destination {name[5:]}",
        rtmp_url=f"rtmp://127.0.0.1:{settings.RTMP_PORT}/sink",
        stream_key=name,
    )
