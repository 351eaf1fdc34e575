"""A refused publish leaves nothing behind, and the creator is told why, live, in the studio."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from recordings.actions import set_recording_enabled
from recordings.models import Recording
from streaming import actions
from streaming.models import DestinationStream, IngestKey, StreamSession
from streaming.refusals import OLD_KEY, SERVER_ERROR, last_publish_refused
from tests.streaming.test_callbacks import ON_PUBLISH, publish_form, with_destinations
from tests.studio.test_consumer import TIMEOUT, communicator, cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recording_fails() -> Iterator[None]:
    """A real database error where a publish can fail after its session is committed: creating
    the session's recording (start_supervisors' hook). A trigger, not a patch of our code."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION prism_test_refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER prism_test_refuse BEFORE INSERT ON recordings_recording "
            "FOR EACH ROW EXECUTE FUNCTION prism_test_refuse()"
        )
    try:
        yield
    finally:
        drop_recording_failure()


def drop_recording_failure() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS prism_test_refuse ON recordings_recording")
        cursor.execute("DROP FUNCTION IF EXISTS prism_test_refuse()")


def recording_pro(user: User) -> str:
    Subscription.objects.create(user=user, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    set_recording_enabled(user, True)
    with_destinations(user, 2)
    return IngestKey.regenerate(user).key


def test_a_publish_failing_after_its_session_was_committed_leaves_nothing_and_the_next_is_accepted(
    client: Client, owner: User, recording_fails: None
) -> None:
    key = recording_pro(owner)
    assert client.post(ON_PUBLISH, publish_form(key)).status_code == 403
    # The session had been committed (its relays queued) when the recording failed: all gone.
    assert not StreamSession.objects.exists()
    assert not DestinationStream.objects.exists()
    assert not Recording.objects.exists()
    refusal = last_publish_refused(owner.pk)
    assert refusal is not None
    assert refusal.message == SERVER_ERROR

    drop_recording_failure()
    response = client.post(ON_PUBLISH, publish_form(key))
    assert response.status_code == 302  # not "already has a publisher"
    session = StreamSession.objects.get(user=owner)
    assert response["Location"] == session.stream_name
    assert session.state == StreamSession.State.STARTING
    assert DestinationStream.objects.filter(session=session).count() == 2
    assert Recording.objects.filter(session=session).count() == 1
    assert last_publish_refused(owner.pk) is None  # an accepted publish clears the notice


def test_a_plan_refusal_reaches_the_open_studio_with_the_upgrade_link(client: Client, owner: User) -> None:
    key = IngestKey.regenerate(owner).key  # FREE: one destination
    with_destinations(owner, 2)
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "status"
        status = await database_sync_to_async(Client().post)(ON_PUBLISH, publish_form(key))
        assert status.status_code == 403
        refused = await ws.receive_json_from(timeout=TIMEOUT)
        assert set(refused) == {"type", "message", "upgrade_url"}
        assert refused["type"] == "refused"
        assert "destination" in refused["message"].lower()
        assert refused["upgrade_url"].endswith("/pricing/")
        after = await ws.receive_json_from(timeout=TIMEOUT)
        assert after == {"type": "status", "session": None, "destinations": []}
        await ws.disconnect()

    async_to_sync(scenario)()
    assert not StreamSession.objects.exists()


def test_a_studio_opened_after_a_refusal_still_shows_it(client: Client, owner: User) -> None:
    key = IngestKey.regenerate(owner).key
    with_destinations(owner, 2)
    assert client.post(ON_PUBLISH, publish_form(key)).status_code == 403
    cookie = cookie_for(owner)

    async def scenario() -> None:
        ws = communicator(cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "status"
        refused = await ws.receive_json_from(timeout=TIMEOUT)
        assert refused["type"] == "refused"
        assert refused["upgrade_url"]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_replaced_key_is_refused_and_its_owner_is_told_to_copy_the_new_one(
    client: Client, owner: User
) -> None:
    old = IngestKey.regenerate(owner).key
    actions.regenerate_ingest_key(owner)
    assert client.post(ON_PUBLISH, publish_form(old)).status_code == 403
    refusal = last_publish_refused(owner.pk)
    assert refusal is not None
    assert refusal.message == OLD_KEY
    assert not refusal.upgrade_url
    assert not StreamSession.objects.exists()


def test_a_key_nobody_ever_had_is_refused_without_telling_anyone(
    client: Client, owner: User, stranger: User
) -> None:
    IngestKey.regenerate(owner)
    assert client.post(ON_PUBLISH, publish_form("live_never-issued")).status_code == 403
    assert last_publish_refused(owner.pk) is None
    assert last_publish_refused(stranger.pk) is None


def test_a_plan_refusal_still_ends_the_stale_session_it_found(client: Client, owner: User) -> None:
    key = IngestKey.regenerate(owner).key
    stale = StreamSession.objects.create(
        user=owner,
        node="n1",
        stream_name=StreamSession.new_stream_name(),
        quality_ceiling="720p",
        publisher_connected=False,
        publisher_left_at=timezone.now() - timedelta(hours=1),
    )
    with_destinations(owner, 2)  # FREE: one too many
    assert client.post(ON_PUBLISH, publish_form(key)).status_code == 403
    stale.refresh_from_db()
    assert stale.state == StreamSession.State.ENDING
    assert StreamSession.objects.count() == 1
