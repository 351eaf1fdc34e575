"""The Site (django.contrib.sites) follows SITE_URL: allauth signs its e-mails and builds their links
with the current Site's name and domain, which would otherwise stay Django's "example.com"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


def site_identity(site_url: str) -> tuple[str, str]:
    """(domain, name) for a public base URL: both its host (and port, if it names one)."""
    host = urlsplit(site_url).netloc
    if not host:
        raise ValueError(f"SITE_URL {site_url!r} has no host")
    return host, host


def sync_site_with_site_url(**kwargs: Any) -> None:
    """post_migrate receiver (so every `migrate`, the release step included, applies it): the Site
    of SITE_ID gets SITE_URL's domain and name. Safe to run again; the Site cache is cleared."""
    from django.contrib.sites.models import Site
    from django.db import connections, router

    domain, name = site_identity(settings.SITE_URL)
    using = kwargs.get("using", "default")
    if not router.allow_migrate_model(using, Site):
        return
    if Site._meta.db_table not in connections[using].introspection.table_names():
        return  # a partial `migrate <app>` before django.contrib.sites' own tables exist
    Site.objects.using(using).update_or_create(pk=settings.SITE_ID, defaults={"domain": domain, "name": name})
    Site.objects.clear_cache()
