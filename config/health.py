"""GET /healthz: is the database answering, is Redis answering, can pages render.

A load balancer takes a node out on 503. "Pages" matters in production: with DEBUG off every
page names its CSS through the static manifest, so a node whose release step did not write it
(or wrote it without an entry a page needs) answers 500 on every page while the database and
Redis are fine; the probe must say so, naming why.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure to answer is "down"; the probe must not 500
        return False


def redis_answers() -> bool:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def page_render_problem(request: HttpRequest) -> str | None:
    """Why a page cannot render (e.g. "Missing staticfiles manifest entry for 'css/prism.css'"), or None.

    Renders the home page for this (anonymous) probe: the shared layout and its static assets are
    what every page needs, and resolving them is exactly what fails on a node without a manifest.
    """
    try:
        render_to_string("home.html", request=request)
    except Exception as exc:  # any failure to render is the answer; the probe must not 500
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    page_problem = page_render_problem(request)
    checks = {"database": database_answers(), "redis": redis_answers(), "pages": page_problem is None}
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        **{k: "ok" if v else "down" for k, v in checks.items()},
    }
    if page_problem is not None:
        body["pages_error"] = page_problem
    return JsonResponse(body, status=200 if healthy else 503)
