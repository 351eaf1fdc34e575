"""One supervisor per destination (its relay) or per rendition (its encoder), run inside a media task.

The loop: claim the row's lease (compare-and-set, new fencing token), heartbeat, start the
process when its input is ready, watch its progress, kill it when it stalls, restart with
exponential backoff and jitter, give up after ``STREAM_MAX_RETRIES`` failed retries (ERROR with
a message for the creator), and refill the retry budget after a stretch of healthy streaming.
Stop is SIGINT, then SIGKILL after a grace period. Nothing here touches another destination.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from core.quality import preset_named
from platforms.models import PlatformConnection
from platforms.targets import PlatformError, prepare_target
from streaming import actions
from streaming.ffmpeg import build_transcode_command
from streaming.models import DestinationStream, Encoder, Leased, StreamSession
from streaming.processes import Child
from streaming.relay import RelayError, RelayJob

logger = logging.getLogger(__name__)
SHUTTING_DOWN = threading.Event()  # set when the media worker shuts down: stop children, free leases
INPUT_CATEGORIES = ("input_unavailable", "input_ended")
OVER_CEILING = "input_over_ceiling"


def pause(seconds: float) -> None:
    """Sleep between checks. With a connection pool (``DB_POOL_MAX_SIZE``) the thread first hands
    its connection back, so hundreds of supervisors share a few; without one it keeps it (closing
    would mean a new PostgreSQL backend every few seconds per supervisor)."""
    if settings.DATABASES["default"].get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()
    time.sleep(seconds)


def owner_name() -> str:
    return f"{settings.MEDIA_NODE}@{socket.gethostname()}:{threading.get_ident()}"


def backoff_seconds(failures: int, base: float, rng: random.Random | None = None) -> float:
    """The wait before retry number ``failures``: the first at once (a frozen or dropped process
    is replaced within the stall limit), then base, 2*base, 4*base...; every wait gets up to
    25 % of base (or of itself) as jitter so many destinations do not retry in step."""
    jitter = (rng or random).random() * 0.25
    if failures <= 1:
        return base * jitter
    return base * (2 ** (failures - 2)) * (1 + jitter)


def creator_message(category: str, label: str, kind: str) -> str:
    """What went wrong, in words a creator can act on; never a URL or a key."""
    platform = dict(PlatformConnection.Kind.choices).get(kind, "the destination")
    if category == "output_rejected":
        if kind == PlatformConnection.Kind.CUSTOM:
            return f"{label} refused the stream key — check the server and key of this destination"
        return f"{platform} refused the stream key — reconnect {platform}"
    if category == "output_refused":
        return f"Could not reach {label}'s server"
    if category == "output_broken":
        return f"{label} closed the connection"
    if category in INPUT_CATEGORIES:
        return "Your stream stopped reaching Prism"
    if category == OVER_CEILING:
        return f"Your stream is above the quality your plan allows for {label}"
    if category == "stalled":
        return f"The stream to {label} stopped moving"
    return f"Streaming to {label} failed"


def local_url(app: str, name: str, reader: str = "") -> str:
    """This node's ingest URL for ``name``; ``reader`` tags the play for on_play (``d<pk>``, ``e<pk>``)."""
    url = f"rtmp://{settings.RTMP_LOCAL_HOST}:{settings.RTMP_PORT}/{app}/{name}"
    return f"{url}?reader={reader}" if reader else url


@dataclass
class Outcome:
    """What a supervisor ended with (for logs and tests)."""

    result: str
    failures: int = 0


class _Kind:
    """The per-kind parts of supervision: readiness, the process, and what each event means."""

    model: type[Leased]

    def reload(self, pk: int) -> Leased:
        return self.model.objects.select_related("session").get(pk=pk)

    def should_stop(self, row: Leased) -> bool:
        session: StreamSession = row.session  # type: ignore[attr-defined]
        return (
            row.desired != "RUN"
            or session.desired != StreamSession.Desired.LIVE
            or (
                row.state in row.FINISHED  # type: ignore[attr-defined]
            )
        )

    def ready(self, row: Leased) -> bool:
        return bool(row.session.publisher_connected)  # type: ignore[attr-defined]

    def input_of(self, row: Leased) -> str:
        """The secret-free URL the row's process reads; a change (re-plan) restarts the process."""
        raise NotImplementedError

    def input_missing(self, row: Leased) -> bool:
        """An input failure now is not this row's fault: its publisher or encoder is away."""
        return not row.session.publisher_connected  # type: ignore[attr-defined]

    def spawn(self, row: Leased) -> Child | None:
        raise NotImplementedError

    def went_live(self, row: Leased) -> None:
        raise NotImplementedError

    def retrying(self, row: Leased, category: str, message: str) -> None:
        raise NotImplementedError

    def failed(self, row: Leased, category: str, message: str) -> None:
        raise NotImplementedError

    def stopped(self, row: Leased) -> None:
        raise NotImplementedError


class RelayKind(_Kind):
    model = DestinationStream

    def ready(self, row: Leased) -> bool:
        dest: DestinationStream = row  # type: ignore[assignment]
        if not super().ready(dest):
            return False
        if not dest.rendition:
            return True
        encoder = Encoder.objects.filter(session_id=dest.session_id, rendition=dest.rendition).first()
        if encoder is not None and encoder.state == Encoder.State.ERROR:
            self.failed(
                dest, "internal", f"Prism could not prepare the {dest.rendition} version of your stream"
            )
            return False
        if encoder is None or encoder.desired != "RUN":
            return False
        # At its first start the relay connects before the encoder publishes (idle_streams),
        # so it gets the rendition's first keyframe; after a failure it waits for RUNNING.
        return encoder.state == Encoder.State.RUNNING or encoder.attempts == 0

    def input_of(self, row: Leased) -> str:
        dest: DestinationStream = row  # type: ignore[assignment]
        if dest.rendition:
            return local_url("rendition", f"{dest.session.stream_name}-{dest.rendition}", f"d{dest.pk}")
        return local_url("live", dest.session.stream_name, f"d{dest.pk}")

    def input_missing(self, row: Leased) -> bool:
        dest: DestinationStream = row  # type: ignore[assignment]
        if super().input_missing(dest):
            return True
        return (
            bool(dest.rendition)
            and not Encoder.objects.filter(
                session_id=dest.session_id, rendition=dest.rendition, state=Encoder.State.RUNNING
            ).exists()
        )

    def spawn(self, row: Leased) -> Child | None:
        dest: DestinationStream = row  # type: ignore[assignment]
        if not dest.target_url:
            connection = dest.connection
            if connection is None:
                self.failed(dest, "internal", f"{dest.label} was removed")
                return None
            try:
                target = prepare_target(connection, title=dest.session.title)
            except PlatformError as exc:
                self.failed(dest, "internal", exc.message)
                return None
            dest.target_url, dest.platform_ref = target.url, target.platform_ref
            dest.save(update_fields=["target_url", "platform_ref"])
        max_video: tuple[float, float, float] | None = None
        if not dest.rendition:
            # A copy was planned on the source we expected; until check_source has probed the
            # real one, the relay's gate refuses a source above the session's ceiling.
            cap = preset_named(dest.session.quality_ceiling)
            max_video = (cap.width, cap.height, cap.fps)
        try:
            job = RelayJob(self.input_of(dest), dest.target_url, max_video=max_video)
        except RelayError:
            # The message would say what is wrong with the address; the address holds the key.
            self.failed(dest, "internal", f"The server address of {dest.label} is not usable — edit it")
            return None
        return Child.relay(job, owner=owner_name())

    def went_live(self, row: Leased) -> None:
        row.transition_to(DestinationStream.State.LIVE)  # type: ignore[attr-defined]
        actions.session_went_live(row.session_id)  # type: ignore[attr-defined]

    def retrying(self, row: Leased, category: str, message: str) -> None:
        dest: DestinationStream = row  # type: ignore[assignment]
        dest.transition_to(
            DestinationStream.State.CONNECTING, creator_message(category, dest.label, dest.kind)
        )

    def failed(self, row: Leased, category: str, message: str) -> None:
        dest: DestinationStream = row  # type: ignore[assignment]
        text = (
            message
            if category == "internal" and message
            else creator_message(category, dest.label, dest.kind)
        )
        if dest.transition_to(DestinationStream.State.ERROR, text):
            actions.fail_session_if_no_destination_left(dest.session_id)

    def stopped(self, row: Leased) -> None:
        dest: DestinationStream = row  # type: ignore[assignment]
        if dest.state not in DestinationStream.FINISHED:
            dest.transition_to(DestinationStream.State.DISCONNECTED, "Stream ended.")


class EncoderKind(_Kind):
    model = Encoder

    def input_of(self, row: Leased) -> str:
        return local_url("live", row.session.stream_name, f"e{row.pk}")  # type: ignore[attr-defined]

    def spawn(self, row: Leased) -> Child | None:
        enc: Encoder = row  # type: ignore[assignment]
        preset, _, branded = enc.rendition.partition("-")
        argv = build_transcode_command(
            self.input_of(enc),
            local_url("rendition", f"{enc.session.stream_name}-{enc.rendition}"),
            preset_named(preset),
            source_fps=enc.source_fps,
            branding=branded == "branded",
            threads=1,
        )
        return Child(argv, owner=owner_name())

    def went_live(self, row: Leased) -> None:
        row.transition_to(Encoder.State.RUNNING)  # type: ignore[attr-defined]

    def retrying(self, row: Leased, category: str, message: str) -> None:
        row.transition_to(Encoder.State.STARTING, message)  # type: ignore[attr-defined]

    def failed(self, row: Leased, category: str, message: str) -> None:
        row.transition_to(Encoder.State.ERROR, message)  # type: ignore[attr-defined]

    def stopped(self, row: Leased) -> None:
        if row.state not in Encoder.FINISHED:  # type: ignore[attr-defined]
            row.transition_to(Encoder.State.STOPPED)  # type: ignore[attr-defined]


def supervise(kind: _Kind, pk: int) -> Outcome:
    """Hold row ``pk`` and its process until it should stop, fails for good, or we lose the lease."""
    s = settings
    token = kind.model.claim(pk, owner_name(), s.STREAM_LEASE_SECONDS)
    if token is None:
        return Outcome("held elsewhere")
    child: Child | None = None
    row = kind.reload(pk)
    failures = row.attempts
    next_start = 0.0
    next_beat = time.monotonic() + s.STREAM_HEARTBEAT_SECONDS
    live = False
    healthy_since: float | None = None
    child_input = ""
    # Failures since the process last streamed: they set the backoff. A process that had
    # been streaming and then failed (froze, dropped) is replaced at once; one that keeps
    # failing to start waits longer each time. ``failures`` (the retry budget) counts both.
    failing_streak = 0
    try:
        while True:
            now = time.monotonic()
            if SHUTTING_DOWN.is_set():
                if child is not None:
                    child.stop(s.STREAM_STOP_GRACE_SECONDS)
                    child = None
                return Outcome("worker shutting down", failures)
            if now >= next_beat:
                next_beat = now + s.STREAM_HEARTBEAT_SECONDS
                if not kind.model.heartbeat(pk, token, s.STREAM_LEASE_SECONDS):
                    # Fenced: another supervisor holds the row now; never let two processes push.
                    if child is not None:
                        child.kill()
                        child = None
                    return Outcome("fenced", failures)
                row = kind.reload(pk)
                if child is not None and not row.session.publisher_connected:  # type: ignore[attr-defined]
                    # The publisher left (on_publish_done). With idle_streams on, nginx keeps
                    # our readers waiting instead of closing them: stop them now, start again
                    # when the publisher is back (within the grace period).
                    child.kill()
                    child, live, healthy_since, next_start = None, False, None, 0.0
                elif child is not None and kind.input_of(row) != child_input:
                    # check_source re-planned this row (copy <-> rendition): not a failure.
                    logger.info("%s %s re-planned: restarting on its new input", kind.model.__name__, pk)
                    child.stop(s.STREAM_STOP_GRACE_SECONDS)
                    child, live, healthy_since, next_start = None, False, None, 0.0
            if kind.should_stop(row):
                if child is not None:
                    child.stop(s.STREAM_STOP_GRACE_SECONDS)
                    child = None
                kind.stopped(kind.reload(pk))
                return Outcome("stopped", failures)
            if child is None:
                if now >= next_start and kind.ready(row):
                    row = kind.reload(pk)
                    if row.state in row.FINISHED:  # type: ignore[attr-defined]
                        continue
                    child = kind.spawn(row)
                    child_input = kind.input_of(row)
                    live = False
                    if child is not None:
                        kind.model.objects.filter(pk=pk, lease_token=token).update(process_id=child.pid)
                    if child is None:
                        row = kind.reload(pk)
                        continue
                pause(0.25)
                continue
            code = child.poll()
            stalled = code is None and child.stalled(
                now, s.STREAM_STALL_SECONDS, s.STREAM_START_TIMEOUT_SECONDS
            )
            if code is not None or stalled:
                if stalled:
                    child.kill()
                    category, message = "stalled", "no progress"
                else:
                    category, message = child.failure()
                # For ops: what the process said last (redacted), beside the category below.
                logger.info("%s %s stderr: %s", kind.model.__name__, pk, " | ".join(child.stderr_tail[-8:]))
                child = None
                live, healthy_since = False, None
                row = kind.reload(pk)
                if kind.should_stop(row):
                    continue
                if (category in INPUT_CATEGORIES or stalled) and kind.input_missing(row):
                    continue  # the publisher (or encoder) is away: wait without spending the budget
                if category == OVER_CEILING and not row.session.source_checked:  # type: ignore[attr-defined]
                    # The source is above the ceiling of the copy planned at publish time:
                    # check_source is about to move this destination to a rendition.
                    next_start = now + 0.25
                    continue
                failures += 1
                failing_streak += 1
                kind.model.objects.filter(pk=pk, lease_token=token).update(attempts=failures)
                logger.info(
                    "%s %s failed (%s: %s), failure %s", kind.model.__name__, pk, category, message, failures
                )
                if failures > s.STREAM_MAX_RETRIES:
                    kind.failed(row, category, message)
                    return Outcome("failed", failures)
                kind.retrying(row, category, message)
                next_start = now + backoff_seconds(failing_streak, s.STREAM_RETRY_BASE_SECONDS)
                continue
            if not live and child.last_advance is not None:
                live, healthy_since, failing_streak = True, now, 0
                kind.went_live(kind.reload(pk))
                row = kind.reload(pk)
            if live and failures and healthy_since and now - healthy_since >= s.STREAM_HEALTHY_REFILL_SECONDS:
                failures = 0
                kind.model.objects.filter(pk=pk, lease_token=token).update(attempts=0)
            pause(0.25)
    finally:
        if child is not None:
            child.kill()
        kind.model.release(pk, token)
        finalize_if_ending(kind.model, pk)
        close_old_connections()


def finalize_if_ending(model: type[Leased], pk: int) -> None:
    """The last supervisor of a stopping session to let go ends it, without waiting for the reconciler."""
    session_id = model.objects.filter(pk=pk).values_list("session_id", flat=True).first()
    ending = (StreamSession.State.ENDING, StreamSession.State.ERROR)
    if session_id is not None and StreamSession.objects.filter(pk=session_id, state__in=ending).exists():
        actions.finalize_session(session_id)


def supervise_destination(destination_id: int) -> Outcome:
    return supervise(RelayKind(), destination_id)


def supervise_encoder(encoder_id: int) -> Outcome:
    return supervise(EncoderKind(), encoder_id)
