"""A supervisor's heartbeat is one statement that renews the lease and reads back what the running
loop decides on (streaming.models.Leased.heartbeat_reading): between heartbeats nothing else is
read. On real PostgreSQL: a stop, a re-plan or the publisher leaving reach the workload through
the heartbeat alone; a fenced-off holder's heartbeat reads nothing and extends nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from recordings.models import Recording
from recordings.recorder import RecorderWorkload
from streaming.leases import LeaseRunner
from streaming.models import DestinationStream, Encoder, StreamSession
from streaming.workloads import EncoderWorkload, LeasedWorkload, RelayWorkload
from tests.streaming.test_races import custom, live_session

pytestmark = pytest.mark.django_db(transaction=True)


def held(workload_type: type[LeasedWorkload], pk: int, owner: str = "me") -> LeasedWorkload:
    lease = LeaseRunner(
        workload_type.model,
        pk,
        owner,
        8,
        2,
        reads=(workload_type.beat_fields, workload_type.beat_session_fields),
    )
    assert lease.claim(0.0)
    return workload_type(pk, lease)


def beat(work: LeasedWorkload) -> bool:
    if not work.lease.renew(0.0):
        return False
    work.renewed()
    return True


def test_a_stop_a_replan_and_the_publisher_leaving_reach_a_relay_through_its_heartbeat(owner: User) -> None:
    session = live_session(owner, [custom(owner)])
    dest = DestinationStream.objects.get(session=session)
    work = held(RelayWorkload, dest.pk)
    DestinationStream.objects.filter(pk=dest.pk).update(lease_until=timezone.now())
    assert beat(work)
    lease_until = DestinationStream.objects.get(pk=dest.pk).lease_until
    assert lease_until is not None
    assert lease_until > timezone.now() + timedelta(seconds=7)
    assert not work.should_stop()
    assert not work.publisher_gone()
    assert "/live/" in work.input()

    DestinationStream.objects.filter(pk=dest.pk).update(rendition="360p")
    StreamSession.objects.filter(pk=session.pk).update(publisher_connected=False, source_checked=True)
    assert "/live/" in work.input()  # nothing is read between heartbeats
    assert beat(work)
    assert work.input().endswith(f"/rendition/{session.stream_name}-360p?reader=d{dest.pk}")
    assert work.publisher_gone()
    assert not work.source_unchecked()
    assert not work.should_stop()

    DestinationStream.objects.filter(pk=dest.pk).update(desired=DestinationStream.Desired.STOP)
    assert beat(work)
    assert work.should_stop()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"desired": StreamSession.Desired.STOPPED}, "session"),
        ({"state": DestinationStream.State.ERROR}, "row"),
    ],
)
def test_a_stopped_session_or_a_finished_row_stops_the_loop_at_the_next_heartbeat(
    owner: User, change: dict[str, str], field: str
) -> None:
    session = live_session(owner, [custom(owner)])
    dest = DestinationStream.objects.get(session=session)
    work = held(RelayWorkload, dest.pk)
    rows = StreamSession.objects.filter(pk=session.pk) if field == "session" else DestinationStream.objects
    rows.filter(pk=session.pk if field == "session" else dest.pk).update(**change)
    assert not work.should_stop()
    assert beat(work)
    assert work.should_stop()


def test_an_encoder_told_to_stop_and_a_recording_of_a_deleted_session(owner: User) -> None:
    session = live_session(owner, [])
    encoder = Encoder.objects.create(session=session, rendition="360p")
    work = held(EncoderWorkload, encoder.pk)
    Encoder.objects.filter(pk=encoder.pk).update(desired="STOP")
    assert beat(work)
    assert work.should_stop()

    recording = Recording.objects.create(user=owner, session=session)
    recorder = held(RecorderWorkload, recording.pk)
    StreamSession.objects.filter(pk=session.pk).update(branding=True)
    assert beat(recorder)
    assert recorder.session.branding
    # The session's row is gone (SET_NULL): the heartbeat still renews, the workload reads it all.
    Encoder.objects.filter(session=session).delete()
    StreamSession.objects.filter(pk=session.pk).delete()
    assert beat(recorder)
    assert recorder.row.session is None


def test_a_fenced_off_holders_heartbeat_reads_nothing_and_extends_nothing(owner: User) -> None:
    session = live_session(owner, [custom(owner)])
    dest = DestinationStream.objects.get(session=session)
    first = held(RelayWorkload, dest.pk, "first")
    DestinationStream.objects.filter(pk=dest.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = held(RelayWorkload, dest.pk, "second")
    DestinationStream.objects.filter(pk=dest.pk).update(desired=DestinationStream.Desired.STOP)
    before = DestinationStream.objects.values().get(pk=dest.pk)
    assert not beat(first)
    assert not first.should_stop()  # it read nothing: the loop ends on the lost lease instead
    assert DestinationStream.objects.values().get(pk=dest.pk) == before
    assert beat(second)
    assert second.should_stop()
