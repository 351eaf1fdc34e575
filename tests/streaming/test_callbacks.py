"""nginx-rtmp's callbacks: only a valid key of a user within plan limits is accepted; never a 500."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from platforms.models import PlatformConnection
from streaming import actions
from streaming.models import DestinationStream, IngestKey, StreamSession
from tests.conftest import make_user

ON_PUBLISH = "/rtmp/on_publish/?node=n1"


def publish_form(name: str, **extra: str) -> dict[str, str]:
    return {
        "call": "publish",
        "app": "live",
        "name": name,
        "addr": "127.0.0.1",
        "clientid": "7",
        "flashver": "FMLE/3.0",
        "tcurl": "rtmp://127.0.0.1:1935/live",
        "type": "live",
        **extra,
    }


def with_destinations(user: User, count: int) -> None:
    for i in range(count):
        PlatformConnection.objects.create(
            user=user, kind="CUSTOM", name=f"d{i}", rtmp_url="rtmp://127.0.0.1:1/app", stream_key=f"k{i}"
        )


@pytest.fixture
def keyed(owner: User) -> str:
    return IngestKey.regenerate(owner).key


def test_it_accepts_a_valid_key_and_renames_the_stream(client: Client, owner: User, keyed: str) -> None:
    with_destinations(owner, 1)
    response = client.post(ON_PUBLISH, publish_form(keyed))
    assert response.status_code == 302
    session = StreamSession.objects.get(user=owner)
    assert response["Location"] == session.stream_name
    assert keyed not in response["Location"]
    assert session.node == "n1"
    assert DestinationStream.objects.filter(session=session).count() == 1


def test_it_refuses_an_unknown_key(client: Client, owner: User, keyed: str) -> None:
    assert client.post(ON_PUBLISH, publish_form(keyed + "x")).status_code == 403
    assert not StreamSession.objects.exists()


def test_a_regenerated_key_stops_the_old_one_at_once(client: Client, owner: User, keyed: str) -> None:
    actions.regenerate_ingest_key(owner)
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 403
    fresh = IngestKey.objects.get(user=owner).key
    assert client.post(ON_PUBLISH, publish_form(fresh)).status_code == 302


def test_it_refuses_a_second_publisher_on_the_same_key(client: Client, owner: User, keyed: str) -> None:
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 302
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 403


def test_a_publisher_back_within_the_grace_period_continues_the_session(
    client: Client, owner: User, keyed: str
) -> None:
    with_destinations(owner, 1)
    first = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    done = {**publish_form(first), "call": "publish_done"}
    assert client.post("/rtmp/on_publish_done/?node=n1", done).status_code == 200
    assert client.post(ON_PUBLISH, publish_form(keyed))["Location"] == first
    assert StreamSession.objects.count() == 1
    assert DestinationStream.objects.count() == 1


def test_it_refuses_a_fourth_destination_on_pro(client: Client, owner: User, keyed: str) -> None:
    Subscription.objects.create(user=owner, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    with_destinations(owner, 4)
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 403
    PlatformConnection.objects.filter(user=owner, name="d3").update(include_in_stream=False)
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 302
    assert StreamSession.objects.get().quality_ceiling == "1080p"


def test_it_refuses_callers_outside_the_allowed_networks(client: Client, owner: User, keyed: str) -> None:
    response = client.post(ON_PUBLISH, publish_form(keyed), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403


def test_on_update_drops_a_stopped_session(client: Client, owner: User, keyed: str) -> None:
    name = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    update = {**publish_form(name), "call": "update_publish"}
    assert client.post("/rtmp/on_update/?node=n1", update).status_code == 200
    actions.stop_session(StreamSession.objects.get().pk)
    assert client.post("/rtmp/on_update/?node=n1", update).status_code == 403


def test_on_update_keeps_a_reader_while_its_session_is_open(client: Client, owner: User, keyed: str) -> None:
    """nginx asks on_update for readers too (call=update_play, every RTMP_UPDATE_SECONDS) and drops
    any it gets a non-2xx for: refusing them cut every relay and encoder off after 30 s."""
    name = client.post(ON_PUBLISH, publish_form(keyed))["Location"]
    update = {**publish_form(name), "call": "update_play"}
    assert client.post("/rtmp/on_update/?node=n1", update).status_code == 200
    stranger = {**publish_form("s-" + "0" * 32), "call": "update_play"}
    assert client.post("/rtmp/on_update/?node=n1", stranger).status_code == 403
    actions.stop_session(StreamSession.objects.get().pk)
    actions.finalize_session(StreamSession.objects.get().pk)
    assert client.post("/rtmp/on_update/?node=n1", update).status_code == 403


def test_a_lapsed_plan_ends_the_session(client: Client, owner: User, keyed: str) -> None:
    sub = Subscription.objects.create(user=owner, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    with_destinations(owner, 2)
    client.post(ON_PUBLISH, publish_form(keyed))
    sub.status = Subscription.Status.CANCELED
    sub.save()
    assert actions.end_sessions_over_plan(owner.pk) == 1
    session = StreamSession.objects.get()
    assert session.state == StreamSession.State.ENDING
    assert "Free plan" in session.end_reason


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


texts = st.text(max_size=80)
fields = st.dictionaries(
    st.sampled_from(["call", "app", "name", "addr", "clientid", "flashver", "tcurl", "type", "junk"]),
    texts,
    max_size=9,
)
# Often well-formed where the form checks (call, app, node), so random input reaches the handlers too.
nodes = st.sampled_from(["n1", "media-2"]) | texts
CALL_OF = {"on_publish": "publish", "on_publish_done": "publish_done", "on_update": "update_publish"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=fields,
    node=nodes,
    use_key=st.booleans(),
    well_formed=st.booleans(),
    path=st.sampled_from(sorted(CALL_OF)),
)
def test_callbacks_under_random_input_never_500_and_never_accept_a_bad_key(
    client: Client, keyed: str, form: dict[str, str], node: str, use_key: bool, well_formed: bool, path: str
) -> None:
    if use_key:
        form = {**form, "name": keyed}
    if well_formed:
        form = {**form, "call": CALL_OF[path], "app": "live"}
    # Every exception in a callback becomes 403 (never 500) and is logged at ERROR; so "never
    # 500" holds by construction, and what shows a crash is an error logged.
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    try:
        response = client.post(
            f"/rtmp/{path}/",
            {k: v.replace("\x00", "") for k, v in form.items()},
            # As a server hands it over: percent-encoded (a raw non-Latin-1 query cannot arrive).
            QUERY_STRING=urlencode({"node": node}),
        )
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert response.status_code in (200, 302, 403)
    if response.status_code == 302:
        assert form.get("name") == keyed
        assert form.get("app") == "live"
        assert form.get("call") == "publish"
        StreamSession.objects.all().delete()


def test_a_user_without_key_gets_one(db: None) -> None:
    user = make_user()
    key = IngestKey.for_user(user)
    assert IngestKey.user_id_for(key.key) == user.pk
    assert key.key not in key.masked


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.lists(st.tuples(st.booleans(), st.sampled_from(["CONNECTED", "NEEDS_REAUTH"])), max_size=6))
def test_property_2_n_active_destinations_make_exactly_n_destination_streams(
    client: Client, owner: User, keyed: str, flags: list[tuple[bool, str]]
) -> None:
    StreamSession.objects.all().delete()
    PlatformConnection.objects.filter(user=owner).delete()
    Subscription.objects.update_or_create(
        user=owner, defaults={"plan": PlanName.BUSINESS, "status": Subscription.Status.ACTIVE}
    )
    for i, (included, state) in enumerate(flags):
        PlatformConnection.objects.create(
            user=owner,
            kind="CUSTOM",
            name=f"p{i}",
            rtmp_url="rtmp://127.0.0.1:1/app",
            stream_key=f"k{i}",
            include_in_stream=included,
            state=state,
        )
    active = sum(1 for included, state in flags if included and state == "CONNECTED")
    assert client.post(ON_PUBLISH, publish_form(keyed)).status_code == 302
    session = StreamSession.objects.get(user=owner)
    assert DestinationStream.objects.filter(session=session).count() == active
    assert (
        len(set(DestinationStream.objects.filter(session=session).values_list("connection", flat=True)))
        == active
    )


def test_the_streams_command_lists_and_stops_a_session(client: Client, owner: User, keyed: str) -> None:
    from io import StringIO

    from django.core.management import call_command

    with_destinations(owner, 1)
    client.post(ON_PUBLISH, publish_form(keyed))
    out = StringIO()
    call_command("streams", stdout=out)
    assert "1 live session(s)." in out.getvalue()
    assert "Custom RTMP: d0: CONNECTING" in out.getvalue()
    assert keyed not in out.getvalue()
    session = StreamSession.objects.get()
    call_command("streams", stop=session.pk, stdout=StringIO())
    session.refresh_from_db()
    assert session.state == StreamSession.State.ENDING
