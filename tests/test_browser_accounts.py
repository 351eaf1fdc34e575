"""A new visitor signs up, verifies the e-mail, logs out and in again — in a real Chromium."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.browser import browser_page  # noqa: F401  (fixture)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_visitor_signs_up_verifies_logs_out_and_logs_in(live_server, browser_page) -> None:  # noqa: F811
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", "visitor@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.get_by_role("button", name=re.compile("Sign Up", re.I)).click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))

    link = re.search(r"http://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    page.goto(live_server.url + "/accounts/" + link.split("/accounts/", 1)[1])
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
    page.wait_for_url(re.compile(r"/studio/$"))
    assert page.get_by_role("heading", name="Studio").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("link", name="Log in").is_visible()

    page.get_by_role("link", name="Log in").click()
    page.fill("input[name=login]", "visitor@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
    page.wait_for_url(re.compile(r"/studio/$"))
    page.screenshot(path="/tmp/prism-studio.png")
    assert page.get_by_role("button", name="Log out").is_visible()
