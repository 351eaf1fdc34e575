"""The recorder: a supervised relay (``streaming.relay``, bare FFmpeg) whose output is a local FLV file.

A session with branding (FREE) is recorded from its branded rendition, never from the clean source.

It runs under ``streaming.supervisor.supervise`` like a destination's relay (lease, heartbeat,
stall kill, backoff, SIGINT then SIGKILL), with one addition: every check it compares the bytes
written plus the user's other recordings with the plan's storage (``check_storage``) and stops
the recording at the limit, keeping what was written.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.files.storage import default_storage

from billing.models import plan_limits_for
from recordings.models import Recording, storage_used
from recordings.quota import may_keep_recording
from streaming.models import Encoder, Leased
from streaming.processes import Child
from streaming.relay import RelayJob
from streaming.supervisor import _Kind, local_url, owner_name

QUOTA_CHECK_SECONDS = 0.5


def parts_dir(recording: Recording) -> Path:
    return Path(default_storage.path(recording.parts_name))


def parts_of(recording: Recording) -> list[Path]:
    """The FLV parts written so far, oldest first (one per recorder start)."""
    folder = parts_dir(recording)
    return sorted(folder.glob("[0-9][0-9][0-9][0-9].flv")) if folder.is_dir() else []


def bytes_written(recording: Recording) -> int:
    return sum(part.stat().st_size for part in parts_of(recording))


def recorder_tag(recording_id: int) -> str:
    """How the recorder names itself to on_play, so the publish is held until it is connected."""
    return f"r{recording_id}"


def recorder_job(input_url: str, path: Path) -> RelayJob:
    """A recorder is a relay whose output is a new FLV file (no key, so no key pipe)."""
    return RelayJob(input_url, str(path.resolve()), format="flv")


class RecorderKind(_Kind):
    model = Recording

    def __init__(self) -> None:
        self._next_check = 0.0

    def should_stop(self, row: Leased) -> bool:
        rec: Recording = row  # type: ignore[assignment]
        if super().should_stop(rec):
            return True
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + QUOTA_CHECK_SECONDS
        written = bytes_written(rec)
        Recording.objects.filter(pk=rec.pk, state=Recording.State.RECORDING).update(bytes=written)
        decision = may_keep_recording(
            plan_limits_for(rec.user), storage_used(rec.user_id, excluding=rec.pk), written
        )
        if decision:
            return False
        from recordings.actions import stop_recording_at_quota

        stop_recording_at_quota(rec.pk, decision)
        return True

    def spawn(self, row: Leased) -> Child | None:
        rec: Recording = row  # type: ignore[assignment]
        folder = parts_dir(rec)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(parts_of(rec)) + 1:04d}.flv"
        return Child.relay(recorder_job(self.input_of(rec), path), owner=owner_name())

    @staticmethod
    def branded_encoder(rec: Recording) -> Encoder | None:
        """The rendition a branded session records: the one planned at publish time (the
        session's first encoder), which a re-plan keeps running for the recording."""
        return Encoder.objects.filter(session_id=rec.session_id, desired="RUN").order_by("pk").first()

    def ready(self, row: Leased) -> bool:
        rec: Recording = row  # type: ignore[assignment]
        if not super().ready(rec):
            return False
        if not rec.session.branding:
            return True
        # A branded recording reads the branded rendition planned at publish time from the
        # start, as the destinations' relays do: connected before its encoder publishes
        # (idle_streams), it gets the rendition's first frame. After a failure it waits for
        # the encoder to run again.
        encoder = self.branded_encoder(rec)
        return encoder is not None and (encoder.state == Encoder.State.RUNNING or encoder.attempts == 0)

    def input_of(self, row: Leased) -> str:
        rec: Recording = row  # type: ignore[assignment]
        session = rec.session
        if session.branding:
            encoder = self.branded_encoder(rec)
            suffix = encoder.rendition if encoder is not None else "none"
            return local_url("rendition", f"{session.stream_name}-{suffix}")
        # Tagged: on_publish waits for the recorder as for a relay, so the recording starts
        # with the stream's first frame instead of at the next keyframe.
        return local_url("live", session.stream_name, recorder_tag(rec.pk))

    def input_missing(self, row: Leased) -> bool:
        rec: Recording = row  # type: ignore[assignment]
        if super().input_missing(rec):
            return True
        if not rec.session.branding:
            return False
        encoder = self.branded_encoder(rec)
        return encoder is None or encoder.state != Encoder.State.RUNNING

    def went_live(self, row: Leased) -> None:
        pass  # the row is RECORDING from its creation; the page shows the bytes growing

    def retrying(self, row: Leased, category: str, message: str) -> None:
        pass  # the next start writes a new part; the parts are joined at the end

    def failed(self, row: Leased, category: str, message: str) -> None:
        Recording.objects.filter(pk=row.pk).update(
            desired=Recording.Desired.STOP, message="The recording stopped: Prism could not keep recording."
        )

    def stopped(self, row: Leased) -> None:
        pass  # the task that ran the supervisor finalises the recording once the lease is free
