"""Recording work across models: start one with a session, stop it at the quota, finish it, delete it."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import User
from accounts.notices import notify
from billing.models import plan_limits_for
from billing.plans import Decision, PlanLimits, check_storage
from billing.prompts import upgrade_url
from core.leases import LeaseLost
from recordings.models import Recording, RecordingPreference, recorder_tag, storage_used
from recordings.parts import parts_dir, parts_of
from recordings.quota import may_start_recording
from recordings.remux import probe_duration, remux_parts, remux_timeout
from streaming.actions import enqueue_leased
from streaming.models import Encoder, StreamEvent, StreamSession
from streaming.status import push_to_user
from streaming.supervisor import owner_name

logger = logging.getLogger(__name__)


class RecordingBusy(Exception):
    """The recording is still being written: stop the stream first."""


def set_recording_enabled(user: User, enabled: bool) -> RecordingPreference:
    pref, _ = RecordingPreference.objects.update_or_create(user=user, defaults={"enabled": enabled})
    return pref


def _tell_creator(session: StreamSession, text: str) -> None:
    """In the session's events (the status log) and, live, on the studio page."""
    StreamEvent.objects.create(
        session=session, from_state=session.state, to_state=session.state, message=text
    )
    user_id = session.user_id
    message = {"type": "stream.warning", "message": text, "upgrade_url": upgrade_url()}
    transaction.on_commit(lambda: push_to_user(user_id, message))


def records_branded(session: StreamSession) -> bool:
    """Will this session's recording need the branded rendition? (Branding on, the creator
    records, and there is room to start: the planner then keeps that rendition running.)"""
    if not session.branding or not RecordingPreference.is_enabled_for(session.user_id):
        return False
    return bool(may_start_recording(plan_limits_for(session.user), storage_used(session.user_id)))


def start_session_recording(session_id: int) -> Recording | None:
    """The engine's seam: a session went live. Start its recorder if the creator records and has room.

    At or over the plan's storage the recording is refused (the stream goes on) and the creator is
    told why, with the upgrade prompt. Safe to call twice: one recording per session.
    """
    session = StreamSession.objects.filter(pk=session_id).first()
    if session is None or not RecordingPreference.is_enabled_for(session.user_id):
        return None
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=session.user_id).first()  # one quota decision at a time
        existing = Recording.objects.filter(session=session).first()
        if existing is not None:
            return existing
        decision = may_start_recording(plan_limits_for(session.user), storage_used(session.user_id))
        if not decision:
            _tell_creator(session, f"Your stream is live but is not being recorded. {decision.message}")
            notify(session.user_id, f"A stream was not recorded. {decision.message}", with_pricing=True)
            return None
        recording = Recording.objects.create(user_id=session.user_id, session=session)
        node = session.node
        transaction.on_commit(lambda: enqueue_recorder(recording.pk, node))
    return recording


def recorder_readers_for_new_session(session_id: int) -> tuple[str, ...]:
    """The engine's start hook: start the session's recording; the publish waits for a recorder
    that reads the live stream (a branded one reads its rendition, whose publish waits for it:
    ``recorder_reads_rendition``)."""
    recording = start_session_recording(session_id)
    if recording is None or recording.session is None or recording.session.branding:
        return ()
    return (recorder_tag(recording.pk),)


def recorded_encoder(session_id: int) -> Encoder | None:
    """The rendition a branded session records: the one planned at publish time (the session's
    first encoder), which a re-plan keeps running for the recording."""
    return Encoder.objects.filter(session_id=session_id, desired="RUN").order_by("pk").first()


def recorder_reads_rendition(session_id: int, rendition: str) -> tuple[str, ...]:
    """The engine's rendition hook: the encoder's publish of ``rendition`` waits for the
    session's branded recorder when that is the rendition it records."""
    recording = Recording.objects.filter(
        session_id=session_id,
        session__branding=True,
        state=Recording.State.RECORDING,
        desired=Recording.Desired.RUN,
    ).first()
    if recording is None:
        return ()
    encoder = recorded_encoder(session_id)
    if encoder is None or encoder.rendition != rendition:
        return ()
    return (recorder_tag(recording.pk),)


def withdraw_recording(session_id: int) -> None:
    """The engine's withdraw hook: the session never was; neither was its recording."""
    for row in Recording.objects.filter(session_id=session_id):
        parts = parts_dir(row)
        row.delete()
        transaction.on_commit(lambda parts=parts: shutil.rmtree(parts, ignore_errors=True))


def enqueue_recorder(recording_id: int, node: str) -> bool:
    """Queue the recorder's supervisor on the session's node unless someone holds or queued it."""
    return enqueue_leased(Recording, recording_id, "recordings.tasks.supervise_recording", node)


def stop_recording_at_quota(recording_id: int, decision: Decision, lease_token: int) -> None:
    """The recording reached the plan's storage: stop it (what was written is kept) and say so.

    Written by the recorder's supervisor under its lease (``lease_token``): LeaseLost, and
    nothing written, once another holder has the row."""
    text = f"Recording stopped: storage full. {decision.message}"
    with transaction.atomic():
        row = (
            Recording.objects.select_for_update(of=("self",))
            .select_related("session")
            .filter(pk=recording_id, lease_token=lease_token)
            .first()
        )
        if row is None:
            raise LeaseLost(f"Recording {recording_id}: lease {lease_token} lost")
        if row.desired == Recording.Desired.STOP:
            return
        row.desired, row.message = Recording.Desired.STOP, text[:300]
        row.save(update_fields=["desired", "message"])
        if row.session is not None:
            _tell_creator(row.session, text)


def _may_finish(row: Recording) -> bool:
    session = row.session
    still_wanted = (
        row.desired == Recording.Desired.RUN
        and session is not None
        and session.state in StreamSession.ACTIVE
        and session.desired == StreamSession.Desired.LIVE
    )
    return row.state == Recording.State.RECORDING and not still_wanted


def finalize_recording(recording_id: int) -> bool:
    """Join the parts into the MP4 and make the recording READY (FAILED if nothing usable).

    Holds the row's lease while it works, so no recorder starts and no second finaliser runs.
    """
    row = Recording.objects.select_related("session").filter(pk=recording_id).first()
    if row is None or not _may_finish(row):
        return False
    parts = [p for p in parts_of(row) if p.stat().st_size > 0]
    total = sum(p.stat().st_size for p in parts)
    logger.info("recording %s: finishing %s part(s), %s bytes", recording_id, len(parts), total)
    token = Recording.claim(recording_id, owner_name(), remux_timeout(total) + 30)
    if token is None:
        return False
    try:
        row = Recording.objects.select_related("session").get(pk=recording_id)
        if not _may_finish(row):
            return False
        Recording.objects.filter(pk=recording_id).update(desired=Recording.Desired.STOP)
        if not parts:
            row.transition_to(Recording.State.FAILED, row.message or "Nothing was recorded.", bytes=0)
            return True
        name = f"{row.base_name}.mp4"
        output = Path(default_storage.path(name))
        partial = output.with_name(output.name + ".partial")
        error = remux_parts(parts, partial)
        if error is not None:
            logger.warning("recording %s: remux failed: %s", recording_id, error)
            partial.unlink(missing_ok=True)
            row.transition_to(Recording.State.FAILED, "Prism could not finish this recording.", bytes=total)
            return True
        os.replace(partial, output)
        seconds = probe_duration(output)
        row.transition_to(
            Recording.State.READY,
            file=name,
            bytes=output.stat().st_size,
            duration=timedelta(seconds=seconds) if seconds is not None else None,
        )
        shutil.rmtree(parts_dir(row), ignore_errors=True)
        return True
    finally:
        Recording.release(recording_id, token)


def _remove_files(name: str, parts: Path) -> None:
    if name:
        default_storage.delete(name)
    shutil.rmtree(parts, ignore_errors=True)


def delete_recording(user: User, recording_id: int) -> Recording | None:
    """Delete the owner's recording (None if it is not theirs): its bytes stop counting at once,
    its files go once the transaction commits. RecordingBusy while it is being written."""
    with transaction.atomic():
        row = (
            Recording.objects.select_for_update()
            .filter(pk=recording_id, user=user)
            .exclude(state=Recording.State.DELETED)
            .first()
        )
        if row is None:
            return None
        if row.state == Recording.State.RECORDING:
            raise RecordingBusy("This recording is still being written; stop the stream first.")
        name, parts = row.file.name or "", parts_dir(row)
        row.transition_to(Recording.State.DELETED)
        transaction.on_commit(lambda: _remove_files(name, parts))
    return row


def enforce_plan_on_storage(user_id: int, limits: PlanLimits) -> list[str]:
    """billing's plan enforcer for recordings: nothing is deleted; the creator is told when what they keep
    is over the plan's storage (new streams are then not recorded)."""
    used = storage_used(user_id)
    if check_storage(limits, used, 0):
        return []
    return [
        f"Your recordings take {used / 1024**3:.1f} GB of the plan's {limits.storage_gb} GB: nothing was "
        "deleted, but new streams are not recorded until you delete some or upgrade."
    ]
