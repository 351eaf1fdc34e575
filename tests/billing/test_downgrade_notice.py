"""After a plan drops or lapses, the creator sees what was switched off and why on their next page
view, with a link to Pricing, until they dismiss it (besides the e-mail)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Notice, User
from accounts.notices import dismiss, notify
from billing.enforcement import carry_out_plan_enforcement
from billing.models import PlanEnforcement, Subscription, SubscriptionChange
from billing.plans import PlanName
from platforms.models import PlatformConnection
from recordings.models import Recording

pytestmark = pytest.mark.django_db


def custom(user: User, name: str) -> PlatformConnection:
    return PlatformConnection.objects.create(
        user=user,
        kind=PlatformConnection.Kind.CUSTOM,
        name=name,
        rtmp_url="rtmp://a.example/app",
        stream_key="k",
    )


def test_a_lapsed_plan_leaves_a_notice_on_the_next_page_until_dismissed(owner: User, stranger: User) -> None:
    subscription = Subscription.objects.create(
        user=owner, plan=PlanName.PRO, status=Subscription.Status.CANCELED
    )
    custom(owner, "First")
    custom(owner, "Second")
    Recording.objects.create(user=owner, state=Recording.State.READY, bytes=3 * 1024**3)

    change = SubscriptionChange.objects.create(
        subscription=subscription, from_plan="PRO", to_plan="FREE", from_status="ACTIVE", to_status="CANCELED"
    )
    job = PlanEnforcement.objects.create(change=change, user=owner)
    assert carry_out_plan_enforcement(job.pk) == PlanEnforcement.State.DONE

    assert len(mail.outbox) == 1
    notice = Notice.objects.get(user=owner)
    assert notice.link_to_pricing
    assert "Your Prism plan is now Free" in notice.message
    assert "1 destination(s) over the plan's limit were switched off" in notice.message
    assert "recordings take 3.0 GB of the plan's 1 GB" in notice.message
    assert "nothing was deleted" in notice.message
    client = Client()
    client.force_login(owner)
    page = client.get("/destinations/").content.decode()
    assert "Your Prism plan is now Free" in page
    assert 'href="/pricing/"' in page
    client.post(f"/account/notices/{notice.pk}/dismiss/", {"next": "/destinations/"})
    assert "Your Prism plan is now Free" not in client.get("/destinations/").content.decode()


def test_a_stranger_cannot_dismiss_or_see_someone_elses_notice(owner: User, stranger: User) -> None:
    notice = Notice.objects.create(user=owner, message="Your Prism plan is now Free.")
    client = Client()
    client.force_login(stranger)
    assert "Your Prism plan is now Free" not in client.get("/destinations/").content.decode()
    client.post(f"/account/notices/{notice.pk}/dismiss/")
    notice.refresh_from_db()
    assert notice.dismissed_at is None


def test_the_same_notice_still_on_show_is_not_repeated_but_comes_back_once_dismissed(owner: User) -> None:
    first = notify(owner.pk, "A stream was not recorded.", with_pricing=True)
    assert notify(owner.pk, "A stream was not recorded.", with_pricing=True) == first
    assert Notice.objects.filter(user=owner).count() == 1
    assert dismiss(owner.pk, first.pk)
    assert notify(owner.pk, "A stream was not recorded.") != first
    assert Notice.objects.filter(user=owner, dismissed_at__isnull=True).count() == 1
