"""Sign-up with e-mail verification, login, logout, and allauth's rate limit on failed logins."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def sign_up(client: Client, email: str) -> None:
    response = client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content


def log_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_sign_up_sends_a_verification_mail_and_the_link_logs_the_creator_in(client: Client) -> None:
    sign_up(client, "New.Creator@Example.com")

    user = User.objects.get()
    assert user.email == "new.creator@example.com"
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    confirm_path = link.group(0).split("testserver", 1)[-1]
    assert client.post(confirm_path).status_code == 302
    assert user.emailaddress_set.get().verified
    assert client.get(reverse("studio:home")).status_code == 200


def test_an_unverified_creator_cannot_log_in(client: Client) -> None:
    make_user("pending@example.com", verified=False)

    response = log_in(client, "pending@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert client.get(reverse("studio:home")).status_code == 302


def test_a_verified_creator_logs_in_and_out(client: Client, owner: User) -> None:
    response = log_in(client, owner.email)
    assert response.status_code == 302
    assert client.get(reverse("studio:home")).status_code == 200

    client.post(reverse("account_logout"))

    response = client.get(reverse("studio:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_wrong_password_is_refused_with_a_message(client: Client, owner: User) -> None:
    response = log_in(client, owner.email, "not the password")

    assert response.status_code == 200
    assert b"not correct" in response.content
    assert client.get(reverse("studio:home")).status_code == 302


def test_failed_logins_are_rate_limited_even_for_the_right_password_after(
    client: Client, owner: User
) -> None:
    for _ in range(5):
        assert log_in(client, owner.email, "wrong").status_code == 200

    response = log_in(client, owner.email)

    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert client.get(reverse("studio:home")).status_code == 302


def test_the_admin_lists_users_by_email_with_search(client: Client, owner: User) -> None:
    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.get(reverse("admin:accounts_user_changelist"), {"q": "owner@"})

    assert response.status_code == 200
    assert b"owner@example.com" in response.content
    assert b"stranger@example.com" not in response.content


def test_pages_share_the_layout_with_navigation(client: Client, owner: User) -> None:
    client.force_login(owner)
    for name in ["home", "studio:home", "platforms:destinations", "billing:pricing", "accounts:overview"]:
        body = client.get(reverse(name)).content.decode()
        for label in ["Studio", "Destinations", "Pricing", "Account"]:
            assert f">{label}</a>" in body, (name, label)
