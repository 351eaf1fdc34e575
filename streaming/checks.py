"""System checks for the ingest's callbacks (run by `check`, `check --deploy` and every start)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.http.request import split_domain_port, validate_host

from streaming.callback_host import site_host


@register()
def site_url_host_is_allowed(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """nginx-rtmp's callbacks are answered as requests to SITE_URL's host (streaming.callback_host):
    if ALLOWED_HOSTS refuses it, every on_publish answers 400 and nobody can go live."""
    if settings.DEBUG:
        return []  # DEBUG also allows localhost names; SITE_URL defaults to 127.0.0.1 there
    domain, _ = split_domain_port(site_host())
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        return []
    return [
        Error(
            f"SITE_URL's host ({site_host()!r}) is not in ALLOWED_HOSTS: nginx-rtmp's callbacks "
            "would be refused and nobody could go live.",
            hint="Set SITE_URL to this site's public address and list its host in ALLOWED_HOSTS.",
            id="prism.E010",
        )
    ]
