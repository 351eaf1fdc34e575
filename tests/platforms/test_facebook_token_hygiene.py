"""Facebook tokens travel in the Authorization header, never in a URL, a log or an error page; and
disconnecting revokes the grant at Facebook once the deletion has committed."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, TestCase

from accounts.models import User
from platforms.models import PlatformConnection
from platforms.targets import prepare_target
from tests.fakes.platform_apis import PlatformFakes
from tests.platforms.conftest import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


def me_requests(platforms: PlatformFakes) -> list:
    return [r for r in platforms.facebook.requests if r.method == "GET" and r.path.endswith("/me")]


def test_the_profile_call_sends_the_token_in_a_header_not_the_query(
    creator: Client, platforms: PlatformFakes
) -> None:
    connect(creator, "facebook", platforms.facebook.url)
    (me,) = me_requests(platforms)
    assert me.headers["authorization"].startswith("OAuth ")
    assert "access_token" not in me.query
    connection = PlatformConnection.objects.get(kind="FACEBOOK")
    prepare_target(connection, title="Live")  # our own Graph seam does the same
    (create,) = [r for r in platforms.facebook.requests if r.path.endswith("/live_videos")]
    assert create.headers["authorization"] == f"OAuth {connection.access_token}"
    assert "access_token" not in create.query
    assert "access_token" not in create.form


def test_a_failing_profile_call_leaves_no_token_in_logs_or_the_response(
    creator: Client, platforms: PlatformFakes, caplog: pytest.LogCaptureFixture
) -> None:
    platforms.facebook.fail_me_with = 500
    caplog.set_level(logging.DEBUG)
    response = connect(creator, "facebook", platforms.facebook.url)
    tokens = list(platforms.facebook.grants.access)
    assert tokens, "the fake issued a token"
    assert me_requests(platforms), "the profile call was made (and failed)"
    body = response.content.decode()
    for token in tokens:
        assert token not in caplog.text
        assert token not in body
        for record in caplog.records:
            assert token not in str(record.exc_info or "")
    assert not PlatformConnection.objects.filter(kind="FACEBOOK").exists()


def test_disconnecting_facebook_revokes_the_grant_after_commit(
    creator: Client, owner: User, platforms: PlatformFakes
) -> None:
    connect(creator, "facebook", platforms.facebook.url)
    connection = PlatformConnection.objects.get(user=owner, kind="FACEBOOK")
    token = connection.access_token
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        creator.post(f"/destinations/{connection.pk}/disconnect")
    assert not any(r.method == "DELETE" for r in platforms.facebook.requests)  # not before commit
    for callback in callbacks:
        callback()
    (revoke,) = [r for r in platforms.facebook.requests if r.method == "DELETE"]
    assert revoke.path.endswith(f"/{connection.account_id}/permissions")
    assert revoke.headers["authorization"] == f"OAuth {token}"
    assert "access_token" not in revoke.query
    assert platforms.facebook.grants.access[token].revoked
