"""The Recordings page: the switch, usage, owner-only downloads, delete with confirmation, notices."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from recordings.clock import clock
from recordings.models import Recording, RecordingPreference, storage_used

pytestmark = pytest.mark.django_db(transaction=True)
CONTENT = b"\x00\x00\x00\x18ftypmp42" + b"x" * 1000


def ready_recording(user: User, content: bytes = CONTENT) -> Recording:
    recording = Recording.objects.create(user=user, state=Recording.State.READY, bytes=len(content))
    recording.file.name = default_storage.save(
        f"recordings/{user.pk}/r{recording.pk}.mp4", ContentFile(content)
    )
    recording.save(update_fields=["file"])
    return recording


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_downloads_their_recording_as_an_attachment(owner: User) -> None:
    recording = ready_recording(owner)
    response = logged_in(owner).get(f"/recordings/{recording.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENT  # type: ignore[attr-defined]
    assert response["Content-Disposition"].startswith("attachment;")


def test_a_stranger_gets_404_for_someone_elses_recording(owner: User, stranger: User) -> None:
    recording = ready_recording(owner)
    client = logged_in(stranger)
    assert client.get(f"/recordings/{recording.pk}/download/").status_code == 404
    assert client.get(f"/recordings/{recording.pk}/delete/").status_code == 404
    assert client.post(f"/recordings/{recording.pk}/delete/").status_code == 404
    assert Recording.objects.get(pk=recording.pk).state == Recording.State.READY


def test_anonymous_visitors_are_sent_to_log_in(owner: User) -> None:
    recording = ready_recording(owner)
    response = Client().get(f"/recordings/{recording.pk}/download/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_recordings_are_never_served_from_a_public_media_url(owner: User, media_root: Path) -> None:
    recording = ready_recording(owner)
    assert Client().get(f"/media/{recording.file.name}").status_code == 404


def test_delete_asks_first_then_frees_the_quota_and_removes_the_file(owner: User, media_root: Path) -> None:
    recording = ready_recording(owner)
    path = media_root / recording.file.name
    assert path.exists()
    client = logged_in(owner)
    confirm = client.get(f"/recordings/{recording.pk}/delete/")
    assert confirm.status_code == 200
    assert b"Delete this recording?" in confirm.content
    assert storage_used(owner.pk) == len(CONTENT)
    response = client.post(f"/recordings/{recording.pk}/delete/", follow=True)
    assert b"its space is free again" in response.content
    assert Recording.objects.get(pk=recording.pk).state == Recording.State.DELETED
    assert storage_used(owner.pk) == 0
    assert not path.exists()


def test_a_recording_being_written_cannot_be_deleted(owner: User) -> None:
    recording = Recording.objects.create(user=owner, bytes=10)
    response = logged_in(owner).post(f"/recordings/{recording.pk}/delete/", follow=True)
    assert b"still being written" in response.content
    assert Recording.objects.get(pk=recording.pk).state == Recording.State.RECORDING


def test_the_page_shows_usage_the_list_and_the_switch(owner: User) -> None:
    ready_recording(owner)
    client = logged_in(owner)
    page = client.get("/recordings/")
    assert page.status_code == 200
    assert b"of 1 GB</strong> used on the Free plan" in page.content
    assert b'href="/recordings/"' in page.content  # in the nav
    assert b"Download" in page.content
    client.post("/recordings/preference/", {"enabled": "on"})
    assert RecordingPreference.is_enabled_for(owner.pk)
    client.post("/recordings/preference/", {})
    assert not RecordingPreference.is_enabled_for(owner.pk)


def test_over_quota_after_a_downgrade_nothing_is_deleted_and_new_recordings_are_blocked(owner: User) -> None:
    Subscription.objects.create(user=owner, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    # 2 GB: fine on PRO, over FREE's 1 GB once the subscription lapses.
    kept = Recording.objects.create(user=owner, state=Recording.State.READY, bytes=2 * 1024**3)
    Subscription.objects.filter(user=owner).update(status=Subscription.Status.CANCELED)
    client = logged_in(owner)
    response = client.post("/recordings/preference/", {"enabled": "on"}, follow=True)
    assert b"Free plan stores up to 1 GB of recordings. Upgrade to Pro" in response.content
    assert b"Nothing is deleted for you" in response.content
    assert Recording.objects.get(pk=kept.pk).state == Recording.State.READY


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0:00"), (15.595, "0:16"), (15.4, "0:15"), (62, "1:02"), (599.6, "10:00"), (3723, "1:02:03")],
)
def test_recording_lengths_read_like_a_player(seconds: float, shown: str) -> None:
    assert clock(timedelta(seconds=seconds)) == shown


def test_the_list_shows_a_recordings_length_as_minutes_and_seconds(owner: User) -> None:
    recording = ready_recording(owner)
    Recording.objects.filter(pk=recording.pk).update(duration=timedelta(seconds=15.595))
    page = logged_in(owner).get("/recordings/").content.decode()
    assert "<td>0:16</td>" in page
    assert "0:00:15" not in page
