"""The plan made at publish time (so relays can connect before the first keyframe), its check
against the probed source, on_play and the on_publish hold. No media here: see test_restream_e2e."""

from __future__ import annotations

import random

import pytest
from django.test import Client

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from recordings.actions import set_recording_enabled
from recordings.models import Recording, recorder_tag
from streaming import actions
from streaming.models import DestinationStream, Encoder, IngestKey, StreamSession
from streaming.renditions import SourceInfo
from streaming.supervision import backoff_seconds
from studio.models import StudioSettings
from tests.streaming.test_callbacks import ON_PUBLISH, publish_form, with_destinations

ON_PLAY = "/rtmp/on_play/?node=n1"


def play_form(name: str, **extra: str) -> dict[str, str]:
    return {**publish_form(name), "call": "play", **extra}


def pro(user: User) -> None:
    Subscription.objects.create(user=user, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)


@pytest.fixture
def keyed(owner: User) -> str:
    return IngestKey.regenerate(owner).key


def test_a_first_session_plans_copies_and_names_the_readers_to_wait_for(owner: User, keyed: str) -> None:
    pro(owner)
    with_destinations(owner, 2)
    answer = actions.accept_publish(keyed, "n1")
    session = StreamSession.objects.get(user=owner)
    dests = list(DestinationStream.objects.filter(session=session))
    # Never probed: the guess is a source that fits the ceiling, so every destination copies.
    assert [d.rendition for d in dests] == ["", ""]
    assert not Encoder.objects.filter(session=session).exists()
    assert session.planned
    assert not session.source_checked
    assert answer.readers == tuple(f"d{d.pk}" for d in dests)


def test_a_free_session_starts_its_branded_encoder_at_publish(owner: User, keyed: str) -> None:
    with_destinations(owner, 1)
    answer = actions.accept_publish(keyed, "n1")
    session = StreamSession.objects.get(user=owner)
    encoder = Encoder.objects.get(session=session)
    dest = DestinationStream.objects.get(session=session)
    assert encoder.rendition == dest.rendition == f"{session.quality_ceiling}-branded"
    # The encoder reads the source; the relay reads the rendition and needs no hold.
    assert answer.readers == (f"e{encoder.pk}",)


def test_a_free_session_that_records_plans_a_branded_rendition_even_without_a_destination(
    owner: User, keyed: str
) -> None:
    from recordings.actions import set_recording_enabled

    set_recording_enabled(owner, True)
    answer = actions.accept_publish(keyed, "n1")
    session = StreamSession.objects.get(user=owner)
    encoder = Encoder.objects.get(session=session)
    # No destination to read it: the rendition is there for the recording, so the FREE recording
    # carries the branding like the FREE stream does.
    assert encoder.rendition == f"{session.quality_ceiling}-branded"
    assert answer.readers == (f"e{encoder.pk}",)


def test_a_paid_session_records_the_source_and_plans_nothing_for_it(owner: User, keyed: str) -> None:
    from recordings.actions import set_recording_enabled

    pro(owner)
    set_recording_enabled(owner, True)
    with_destinations(owner, 1)
    actions.accept_publish(keyed, "n1")
    assert not Encoder.objects.filter(session__user=owner).exists()


def test_the_next_session_is_planned_on_what_the_creator_sent_last(owner: User, keyed: str) -> None:
    pro(owner)
    with_destinations(owner, 1)
    StudioSettings.set_preferred_quality(owner.pk, "480p")
    actions.accept_publish(keyed, "n1")
    first = StreamSession.objects.get(user=owner)
    # check_source probed 1280x720: above the 480p ceiling.
    first.source = SourceInfo(1280, 720, 30.0, "h264", "aac").as_json()
    first.save(update_fields=["source"])
    actions.end_session(first.pk, "test")
    StreamSession.objects.filter(pk=first.pk).update(state=StreamSession.State.ENDED)
    answer = actions.accept_publish(keyed, "n1")
    second = StreamSession.objects.filter(user=owner).order_by("-pk").first()
    assert second is not None
    assert second.pk != first.pk
    assert DestinationStream.objects.get(session=second).rendition == "480p"
    assert Encoder.objects.get(session=second).rendition == "480p"
    assert answer.readers == (f"e{Encoder.objects.get(session=second).pk}",)


def test_a_stored_source_that_is_malformed_is_not_trusted(owner: User) -> None:
    StreamSession.objects.create(
        user=owner, node="n1", stream_name="s-old", quality_ceiling="720p", source={"width": "1e9"}
    )
    StreamSession.objects.filter(stream_name="s-old").update(state=StreamSession.State.ENDED)
    assert actions.predicted_source(owner.pk, "720p") == SourceInfo(1280, 720, 30.0, "h264", "aac")


@pytest.mark.parametrize(
    ("probed", "expected_rendition", "encoders_running"),
    [
        # Above the 720p ceiling: copy -> 720p rendition, one encoder.
        (SourceInfo(1920, 1080, 30.0, "h264", "aac"), "720p", ["720p"]),
        # As guessed: nothing changes.
        (SourceInfo(1280, 720, 30.0, "h264", "aac"), "", []),
        # A codec FLV-to-platforms cannot carry as is: transcode.
        (SourceInfo(1280, 720, 30.0, "hevc", "aac"), "720p", ["720p"]),
    ],
)
def test_apply_plan_moves_destinations_between_copy_and_rendition(
    owner: User, keyed: str, probed: SourceInfo, expected_rendition: str, encoders_running: list[str]
) -> None:
    pro(owner)
    with_destinations(owner, 2)
    StudioSettings.set_preferred_quality(owner.pk, "720p")
    actions.accept_publish(keyed, "n1")
    session = StreamSession.objects.get(user=owner)
    started = actions.apply_plan(session, list(session.destinations.all()), probed)
    assert {d.rendition for d in session.destinations.all()} == {expected_rendition}
    assert [e.rendition for e in started] == encoders_running
    # And back: a later plan that copies again asks the encoder to stop (its rows are kept).
    actions.apply_plan(session, list(session.destinations.all()), SourceInfo(640, 360, 30.0, "h264", "aac"))
    assert {d.rendition for d in session.destinations.all()} == {""}
    assert set(Encoder.objects.filter(session=session).values_list("desired", flat=True)) <= {"STOP"}


def test_on_play_records_a_tagged_reader_of_an_open_session(client: Client, owner: User, keyed: str) -> None:
    name = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    assert client.post(ON_PLAY, play_form(name, reader="d12")).status_code == 200
    assert actions.wait_for_readers(name, ("d12",), timeout=0.5) == 1
    # A probe has no tag; it may read too.
    assert client.post(ON_PLAY, play_form(name)).status_code == 200
    assert actions.wait_for_readers(name, ("d12", "e99"), timeout=0.2) == 1


@pytest.mark.parametrize(
    "form",
    [
        play_form("s-nobody"),  # no open session has that name
        play_form("s-x", reader="x1"),  # not one of our tags
        play_form("s-x", reader="d1; rm"),
        {**play_form("s-x"), "app": "rendition"},  # on_play is wired for `live` only
    ],
)
def test_on_play_refuses_what_is_not_an_open_session_s_reader(client: Client, form: dict[str, str]) -> None:
    assert client.post(ON_PLAY, form).status_code == 403


def test_on_play_refuses_an_ended_session(client: Client, owner: User, keyed: str) -> None:
    name = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    actions.stop_session(StreamSession.objects.get(stream_name=name).pk)
    assert client.post(ON_PLAY, play_form(name, reader="d1")).status_code == 403


def test_the_hold_ends_when_the_readers_arrive_or_at_its_limit(owner: User, keyed: str) -> None:
    answer = actions.accept_publish(keyed, "n1")
    assert answer.stream_name is not None
    assert actions.wait_for_readers(answer.stream_name, ("d1", "e2"), timeout=0.1) == 0
    actions.reader_arrived(answer.stream_name, "d1")
    actions.reader_arrived(answer.stream_name, "e2")
    assert actions.wait_for_readers(answer.stream_name, ("d1", "e2"), timeout=5) == 2
    assert actions.wait_for_readers(answer.stream_name, ("d1",), timeout=0) == 0  # hold switched off


HELD = "publish answered after"


def test_on_publish_holds_for_readers_that_do_not_come_and_says_so(
    client: Client, owner: User, keyed: str, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    settings.STREAM_PUBLISH_HOLD_SECONDS = 0.05  # type: ignore[attr-defined]
    pro(owner)
    with_destinations(owner, 3)
    with caplog.at_level("INFO", logger="streaming.views"):
        assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 302
    assert [r.getMessage() for r in caplog.records if HELD in r.getMessage()] == [
        "publish answered after 0.05s with 0 of 3 readers"
    ]


def test_on_publish_waits_for_nobody_when_the_hold_is_off(
    client: Client, owner: User, keyed: str, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    settings.STREAM_PUBLISH_HOLD_SECONDS = 0  # type: ignore[attr-defined]
    pro(owner)
    with_destinations(owner, 3)
    with caplog.at_level("INFO", logger="streaming.views"):
        assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 302
    # Three readers were started and none connected: only a hold would have waited for them.
    assert StreamSession.objects.get(user=owner).destinations.count() == 3
    assert not [r for r in caplog.records if HELD in r.getMessage()]


def test_retry_schedule_first_at_once_then_doubling_with_jitter() -> None:
    rng = random.Random(7)
    for _ in range(200):
        assert 0 <= backoff_seconds(1, 2.0, rng) <= 0.5
        assert 2.0 <= backoff_seconds(2, 2.0, rng) <= 2.5
        assert 4.0 <= backoff_seconds(3, 2.0, rng) <= 5.0
        assert 8.0 <= backoff_seconds(4, 2.0, rng) <= 10.0


ON_RENDITION_PUBLISH = "/rtmp/rendition/on_publish/?node=n1"
ON_RENDITION_PLAY = "/rtmp/rendition/on_play/?node=n1"


def rendition_form(name: str, call: str, **extra: str) -> dict[str, str]:
    return {**publish_form(name), "app": "rendition", "call": call, **extra}


def test_a_branded_rendition_s_publish_waits_for_its_relays_and_its_recorder(
    client: Client, owner: User, keyed: str, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    """FREE: destinations and the recording read the branded rendition, not the source; the
    encoder's publish of it is held until they are connected, so they start with its first frame."""
    set_recording_enabled(owner, True)
    with_destinations(owner, 1)
    name = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    session = StreamSession.objects.get(stream_name=name)
    encoder = Encoder.objects.get(session=session)
    recording = Recording.objects.get(session=session)
    rendition = f"{name}-{encoder.rendition}"
    readers = (f"d{session.destinations.get().pk}", recorder_tag(recording.pk))
    assert actions.rendition_readers(rendition) == readers

    settings.STREAM_PUBLISH_HOLD_SECONDS = 0.05  # type: ignore[attr-defined]
    with caplog.at_level("INFO", logger="streaming.views"):
        assert client.post(ON_RENDITION_PUBLISH, rendition_form(rendition, "publish")).status_code == 200
    assert [r.getMessage() for r in caplog.records if HELD in r.getMessage()] == [
        "publish answered after 0.05s with 0 of 2 readers"
    ]
    for tag in readers:
        answer = client.post(ON_RENDITION_PLAY, rendition_form(rendition, "play", reader=tag))
        assert answer.status_code == 200
    assert actions.wait_for_readers(rendition, readers, timeout=5) == 2


def test_a_copied_stream_s_recorder_is_not_a_rendition_reader(owner: User, keyed: str) -> None:
    pro(owner)
    set_recording_enabled(owner, True)
    with_destinations(owner, 1)
    actions.accept_publish(keyed, "n1")
    session = StreamSession.objects.get(user=owner)
    assert not Encoder.objects.filter(session=session).exists()
    assert actions.rendition_readers(f"{session.stream_name}-720p") is None


@pytest.mark.parametrize("suffix", ["-720p-branded", "", "-", "-x-"])
def test_the_rendition_app_refuses_what_is_not_an_open_session_s_encoder(
    client: Client, owner: User, keyed: str, suffix: str
) -> None:
    with_destinations(owner, 1)
    name = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    encoder = Encoder.objects.get(session__stream_name=name)
    if suffix == "-720p-branded" and encoder.rendition == "720p-branded":
        suffix = "-1080p"
    for bad in (f"{name}{suffix}", f"s-nobody-{encoder.rendition}"):
        assert client.post(ON_RENDITION_PUBLISH, rendition_form(bad, "publish")).status_code == 403
    ours = f"{name}-{encoder.rendition}"
    assert (
        client.post(ON_RENDITION_PLAY, rendition_form("s-nobody-720p", "play", reader="d1")).status_code
        == 403
    )
    assert client.post(ON_RENDITION_PLAY, rendition_form(ours, "play", reader="d1")).status_code == 200
    # The live app's callbacks are not the rendition's, and the other way round.
    assert client.post(ON_PLAY, rendition_form(ours, "play")).status_code == 403
    assert client.post(ON_RENDITION_PLAY, play_form(name)).status_code == 403
    actions.stop_session(StreamSession.objects.get(stream_name=name).pk)
    assert client.post(ON_RENDITION_PUBLISH, rendition_form(ours, "publish")).status_code == 403
    assert client.post(ON_RENDITION_PLAY, rendition_form(ours, "play", reader="d1")).status_code == 403
