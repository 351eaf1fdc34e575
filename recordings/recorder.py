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

from billing.models import plan_limits_for
from recordings.actions import stop_recording_at_quota
from recordings.models import Recording, storage_used
from recordings.parts import bytes_written, parts_dir, parts_of
from recordings.quota import may_keep_recording
from streaming.models import Encoder, Leased
from streaming.processes import Child
from streaming.relay import RelayJob
from streaming.supervisor import _Kind, local_url, owner_name

QUOTA_CHECK_SECONDS = 0.5


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
        """The rendition a branded session records: the planner keeps exactly one running (every
        need of a branded session has the same ceiling), named by the latest plan."""
        return Encoder.objects.filter(session_id=rec.session_id, desired="RUN").order_by("-pk").first()

    def ready(self, row: Leased) -> bool:
        rec: Recording = row  # type: ignore[assignment]
        if not super().ready(rec):
            return False
        if not rec.session.branding:
            return True
        # Recorded from the branded rendition once the plan is final (the source checked), so a
        # guessed rendition replaced a second later does not leave a part of another size.
        encoder = self.branded_encoder(rec)
        return rec.session.source_checked and encoder is not None and encoder.state == Encoder.State.RUNNING

    def input_of(self, row: Leased) -> str:
        rec: Recording = row  # type: ignore[assignment]
        session = rec.session
        if session.branding:
            encoder = self.branded_encoder(rec)
            suffix = encoder.rendition if encoder is not None else "none"
            return local_url("rendition", f"{session.stream_name}-{suffix}")
        # Untagged: the publish is not held for the recorder (it joins at the next keyframe).
        return local_url("live", session.stream_name)

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
