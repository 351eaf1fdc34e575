"""The studio page and its POST endpoints, with the test client; on_publish is the real callback."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from billing.models import Subscription
from billing.plans import PlanName
from platforms.models import PlatformConnection
from streaming import actions
from streaming.models import IngestKey, StreamSession
from studio.models import StudioSettings
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def publish(key: str) -> int:
    """nginx-rtmp's on_publish for ``key``, from loopback; the status code it gets."""
    data = {"call": "publish", "app": "live", "name": key, "addr": "127.0.0.1", "clientid": "1"}
    return Client().post("/rtmp/on_publish/?node=n1", data, REMOTE_ADDR="127.0.0.1").status_code


def test_the_studio_page_never_holds_the_full_key(owner: User) -> None:
    key = IngestKey.for_user(owner).key
    page = logged_in(owner).get(reverse("studio:home"))
    assert page.status_code == 200
    html = page.content.decode()
    assert key not in html
    assert key[-4:] in html  # the masked form
    assert "rtmp://" in html


def test_revealing_the_key_needs_a_post_with_the_password(owner: User) -> None:
    key = IngestKey.for_user(owner).key
    client = logged_in(owner)
    assert client.get(reverse("studio:reveal_key")).status_code == 405
    wrong = client.post(reverse("studio:reveal_key"), {"password": "nope"})
    assert wrong.status_code == 403
    assert key not in wrong.content.decode()
    right = client.post(reverse("studio:reveal_key"), {"password": PASSWORD})
    assert right.json() == {"key": key}


def test_wrong_passwords_lock_the_reveal_for_a_while_and_a_right_one_resets_the_count(
    owner: User, stranger: User
) -> None:
    from studio.views import REVEAL_ATTEMPTS

    key = IngestKey.for_user(owner).key
    client = logged_in(owner)
    url = reverse("studio:reveal_key")
    for _ in range(REVEAL_ATTEMPTS - 2):
        assert client.post(url, {"password": "nope"}).status_code == 403
    assert client.post(url, {"password": PASSWORD}).json() == {"key": key}  # resets the count
    answers = [client.post(url, {"password": "nope"}) for _ in range(REVEAL_ATTEMPTS)]
    assert [a.status_code for a in answers] == [403] * REVEAL_ATTEMPTS
    assert "1 more try before a 15-minute wait" in answers[-2].json()["error"]["message"]
    locked = client.post(url, {"password": PASSWORD})  # even the right password, for now
    assert locked.status_code == 429
    assert "Too many wrong passwords. Try again in 15 minutes" in locked.json()["error"]["message"]
    assert key not in locked.content.decode()
    # Another user is not affected.
    assert logged_in(stranger).post(url, {"password": PASSWORD}).status_code == 200


def test_revealing_the_key_needs_the_csrf_token(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("studio:reveal_key"), {"password": PASSWORD}).status_code == 403


def test_regenerating_the_key_makes_the_old_one_fail_at_once(owner: User) -> None:
    old = IngestKey.for_user(owner).key
    response = logged_in(owner).post(reverse("studio:regenerate_key"), follow=True)
    assert b"old key stopped working" in response.content
    new = IngestKey.objects.get(user=owner).key
    assert new != old
    assert publish(old) == 403
    assert publish(new) == 302


def test_a_quality_above_a_free_plan_gets_the_upgrade_prompt(owner: User) -> None:
    client = logged_in(owner)
    page = client.post(reverse("studio:quality"), {"quality": "1080p"}, follow=True).content.decode()
    assert "Upgrade to Pro" in page
    assert reverse("billing:pricing") in page
    answer = client.post(reverse("studio:quality"), {"quality": "1080p60"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "plan_limit_quality"
    assert answer.json()["error"]["upgrade_to"] == "BUSINESS"


def test_the_quality_form_shows_higher_presets_disabled_with_their_plan(owner: User) -> None:
    html = logged_in(owner).get(reverse("studio:home")).content.decode()
    assert 'value="720p" checked' in html
    assert 'value="1080p" disabled' in html
    assert ">Pro</span>" in html
    assert ">Business</span>" in html


def test_the_next_session_honours_the_preference_capped_by_the_plan(owner: User) -> None:
    Subscription.objects.create(user=owner, plan=PlanName.PRO, status=Subscription.Status.ACTIVE)
    client = logged_in(owner)
    assert client.post(reverse("studio:quality"), {"quality": "480p"}).status_code == 302
    assert publish(IngestKey.for_user(owner).key) == 302
    session = StreamSession.objects.get(user=owner)
    assert session.quality_ceiling == "480p"


def test_adding_a_local_test_destination_lists_it_with_a_preview(owner: User) -> None:
    client = logged_in(owner)
    html = client.get(reverse("studio:home")).content.decode()
    assert reverse("platforms:destinations") in html
    client.post(reverse("studio:add_test_destination"))
    connection = PlatformConnection.objects.get(user=owner)
    html = client.get(reverse("studio:home")).content.decode()
    assert reverse("studio:preview", args=[connection.pk]) in html
    assert connection.stream_key not in html


def test_the_preview_serves_the_sink_hls_to_its_owner_only(
    owner: User, stranger: User, settings: object, tmp_path: Path
) -> None:
    settings.RTMP_SINK_HLS_DIR = tmp_path  # type: ignore[attr-defined]
    connection = actions.add_local_test_destination(owner).connection
    name = connection.stream_key
    (tmp_path / f"{name}.m3u8").write_text(f"#EXTM3U\n#EXTINF:1.0,\n{name}-7.ts\n/etc/passwd\n")
    (tmp_path / f"{name}-7.ts").write_bytes(b"G" * 188)
    playlist = reverse("studio:preview_file", args=[connection.pk, "index.m3u8"])
    mine = logged_in(owner).get(playlist)
    assert mine.status_code == 200
    assert mine.content.decode() == "#EXTM3U\n#EXTINF:1.0,\n7.ts\n"
    segment = logged_in(owner).get(reverse("studio:preview_file", args=[connection.pk, "7.ts"]))
    assert segment.content == b"G" * 188
    assert logged_in(stranger).get(playlist).status_code == 404
    assert logged_in(stranger).get(reverse("studio:preview", args=[connection.pk])).status_code == 404
    for bad in (f"{name}-7.ts", "..%2Fx.ts", "7.ts.bak"):
        outside = reverse("studio:preview", args=[connection.pk]) + "hls/" + bad
        assert logged_in(owner).get(outside).status_code == 404, bad
    page = logged_in(owner).get(reverse("studio:preview", args=[connection.pk])).content.decode()
    assert name not in page


def test_stop_by_post_stops_only_the_users_own_session(owner: User, stranger: User) -> None:
    assert publish(IngestKey.for_user(owner).key) == 302
    session = StreamSession.objects.get(user=owner)
    url = reverse("studio:stop")
    assert (
        logged_in(stranger).post(url, {"session": session.pk}, HTTP_ACCEPT="application/json").status_code
        == 404
    )
    session.refresh_from_db()
    assert session.desired == StreamSession.Desired.LIVE
    assert logged_in(owner).post(url, {"session": session.pk}).status_code == 302
    session.refresh_from_db()
    assert session.desired == StreamSession.Desired.STOPPED
    assert session.state == StreamSession.State.ENDING


def test_a_stored_preference_above_the_current_plan_is_capped_by_it(owner: User) -> None:
    # Chosen on Business, then the plan lapsed to Free: the plan wins.
    StudioSettings.set_preferred_quality(owner.pk, "1080p60")
    assert publish(IngestKey.for_user(owner).key) == 302
    assert StreamSession.objects.get(user=owner).quality_ceiling == "720p"


def test_the_browser_studio_gets_its_presets_and_audio_settings_from_python(owner: User) -> None:
    import json
    import re

    from streaming.adaptive import HOLD_SECONDS, preset_table

    StudioSettings.set_audio_settings(owner.pk, False, 44100)
    page = logged_in(owner).get(reverse("studio:home")).content.decode()
    match = re.search(r'<script id="studio-config" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no studio config in the page"
    config = json.loads(match.group(1))
    assert config["presets"] == preset_table()
    assert config["holdSeconds"] == HOLD_SECONDS
    assert config["audio"] == {
        "noiseSuppression": True,
        "echoCancellation": True,
        "autoGainControl": False,
        "sampleRate": 44100,
    }
    assert config["branding"] is True  # the owner is on Free: the preview marks the branding
    assert 'id="brand-marker"' in page
    assert IngestKey.for_user(owner).key not in page
