"""The recorder: a supervised relay (``streaming.relay``, bare FFmpeg) whose output is a local FLV file.

A session with branding (FREE) is recorded from its branded rendition, never from the clean source.

It runs under ``streaming.supervisor.supervise`` like a destination's relay (lease, heartbeat,
stall kill, backoff, SIGINT then SIGKILL), with one addition: every ``tick`` it compares the bytes
written plus the user's other recordings with the plan's storage (``check_storage``) and stops
the recording at the limit, keeping what was written.
"""

from __future__ import annotations

from pathlib import Path

from billing.models import plan_limits_for
from recordings.actions import recorded_encoder, stop_recording_at_quota
from recordings.models import Recording, recorder_tag, storage_used
from recordings.parts import bytes_written, parts_dir, parts_of
from recordings.quota import may_keep_recording
from streaming.leases import LeaseRunner
from streaming.models import Encoder
from streaming.processes import Child
from streaming.relay import RelayJob
from streaming.renditions import rendition_stream_name
from streaming.workloads import LeasedWorkload, local_url

QUOTA_CHECK_SECONDS = 0.5


def recorder_job(input_url: str, path: Path) -> RelayJob:
    """A recorder is a relay whose output is a new FLV file (no key, so no key pipe)."""
    return RelayJob(input_url, str(path.resolve()), format="flv")


class RecorderWorkload(LeasedWorkload):
    """A recording's recorder (``streaming.workloads.LeasedWorkload``): a relay to a new FLV part."""

    model = Recording
    tick_every = QUOTA_CHECK_SECONDS
    beat_session_fields = (*LeasedWorkload.beat_session_fields, "branding")

    def __init__(self, pk: int, lease: LeaseRunner) -> None:
        self._next_check = 0.0
        super().__init__(pk, lease)

    def tick(self, now: float) -> None:
        """Every QUOTA_CHECK_SECONDS: store the bytes written, and stop at the plan's storage."""
        if now < self._next_check:
            return
        self._next_check = now + QUOTA_CHECK_SECONDS
        rec: Recording = self.row
        written = bytes_written(rec)
        self.lease.rows().filter(state=Recording.State.RECORDING).update(bytes=written)
        decision = may_keep_recording(
            plan_limits_for(rec.user), storage_used(rec.user_id, excluding=rec.pk), written
        )
        if not decision:
            # Fenced like every supervisor write: LeaseLost (the supervisor stops) if fenced off.
            stop_recording_at_quota(rec.pk, decision, self.lease.fencing_token())
            self.refresh()

    def spawn(self) -> Child:
        rec: Recording = self.row
        folder = parts_dir(rec)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(parts_of(rec)) + 1:04d}.flv"
        return Child.relay(recorder_job(self.input(), path), owner=self.lease.owner)

    def reads_rendition(self) -> bool:
        return bool(self.session.branding)

    def encoder(self) -> Encoder | None:
        return recorded_encoder(self.row.session_id)

    def encoder_ready(self, encoder: Encoder | None) -> bool:
        # A branded recording reads the branded rendition planned at publish time from the
        # start, as the destinations' relays do: the encoder's publish waits for it
        # (``recorder_reads_rendition``), so it gets the rendition's first frame. After a
        # failure it waits for the encoder to run again.
        return encoder is not None and (encoder.state == Encoder.State.RUNNING or encoder.attempts == 0)

    def input(self) -> str:
        session = self.session
        if session.branding:
            encoder = self.encoder()
            suffix = encoder.rendition if encoder is not None else "none"
            name = rendition_stream_name(session.stream_name, suffix)
            return local_url("rendition", name, recorder_tag(self.pk))
        # Tagged: on_publish waits for the recorder as for a relay, so the recording starts
        # with the stream's first frame instead of at the next keyframe.
        return local_url("live", session.stream_name, recorder_tag(self.pk))

    # went_live: the row is RECORDING from its creation; the page shows the bytes growing.
    # retrying: the next start writes a new part; the parts are joined at the end.
    # stopped: the task that ran the supervisor finalises the recording once the lease is free.

    def failed(self, category: str, message: str) -> None:
        self.lease.update(
            desired=Recording.Desired.STOP, message="The recording stopped: Prism could not keep recording."
        )
