"""E-mails are signed with the site's own name: the Site follows SITE_URL after every migrate."""

from __future__ import annotations

import re

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.sites import site_identity
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_site_identity_is_the_host_of_site_url() -> None:
    assert site_identity("https://streams.prism.test") == ("streams.prism.test", "streams.prism.test")
    assert site_identity("http://127.0.0.1:8000/") == ("127.0.0.1:8000", "127.0.0.1:8000")
    with pytest.raises(ValueError, match="no host"):
        site_identity("prism")


def test_migrate_sets_the_site_from_site_url_and_mails_are_signed_with_it(settings, client: Client) -> None:
    settings.SITE_URL = "https://streams.prism.test"

    call_command("migrate", verbosity=0)

    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.domain, site.name) == ("streams.prism.test", "streams.prism.test")
    client.post(
        reverse("account_signup"), {"email": "new@prism.test", "password1": PASSWORD, "password2": PASSWORD}
    )
    (message,) = mail.outbox
    assert "streams.prism.test" in message.subject + message.body
    assert not re.search(r"(?<![\w.])example\.com", message.subject + message.body)
