"""Let nginx-rtmp's callbacks through host validation without opening it for the public site.

nginx-rtmp sends ``Host:`` the host of RTMP_CALLBACK_BASE (127.0.0.1:8000 by default), which the
public ALLOWED_HOSTS (prism.example.com) rightly refuses: every on_publish would answer 400 and
nobody could go live. Adding 127.0.0.1 to ALLOWED_HOSTS would let any request naming it reach
every page. Instead, only a request to a callback path (/rtmp/…) from a caller inside
RTMP_CALLBACK_ALLOWED_NETWORKS has its Host replaced by the site's own host (SITE_URL) before
anything validates it; the callback views never build a URL from the host, and they check the
caller again themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from streaming.views import caller_allowed

CALLBACK_PATH_PREFIX = "/rtmp/"


def site_host() -> str:
    return urlsplit(settings.SITE_URL).netloc


class RtmpCallbackHostMiddleware:
    """First in MIDDLEWARE: it must run before CommonMiddleware calls ``request.get_host()``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(CALLBACK_PATH_PREFIX) and caller_allowed(
            request.META.get("REMOTE_ADDR", "")
        ):
            request.META["HTTP_HOST"] = site_host()
            request.META.pop("HTTP_X_FORWARDED_HOST", None)
        return self.get_response(request)
