"""nginx-rtmp's callbacks. Answers in milliseconds: 2xx/3xx accept, 403 refuse, never a 500.

on_publish answers a 302 whose Location is the session's opaque stream name, which makes
nginx-rtmp rename the stream: no later URL, log line or argv carries the ingest key. A publish
that starts a session is answered once the session's relays and encoders have connected to
that name (on_play tells us; at most ``STREAM_PUBLISH_HOLD_SECONDS``), so they receive the
publisher's first keyframe instead of waiting for the next one (docs/performance.md).
"""

from __future__ import annotations

import ipaddress
import logging
import traceback
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.redaction import redact
from streaming import actions
from streaming.forms import RtmpCallbackForm
from streaming.rtmp_config import RENDITION_APP

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, str]], HttpResponse]


def refuse() -> HttpResponse:
    return HttpResponse("refused", status=403, content_type="text/plain")


def caller_allowed(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(
        ip in ipaddress.ip_network(net, strict=False) for net in settings.RTMP_CALLBACK_ALLOWED_NETWORKS
    )


def rtmp_callback(
    app: str, calls: tuple[str, ...]
) -> Callable[[Handler], Callable[[HttpRequest], HttpResponse]]:
    """Check the caller and the form, run the handler; any surprise is logged (without the key) as 403."""

    def wrap(handler: Handler) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @require_POST
        @wraps(handler)
        def view(request: HttpRequest) -> HttpResponse:
            if not caller_allowed(request.META.get("REMOTE_ADDR", "")):
                logger.warning("rtmp callback from a caller outside RTMP_CALLBACK_ALLOWED_NETWORKS")
                return refuse()
            try:
                form = RtmpCallbackForm({**request.POST.dict(), "node": request.GET.get("node", "")})
                if (
                    not form.is_valid()
                    or form.cleaned_data["app"] != app
                    or form.cleaned_data["call"] not in calls
                ):
                    return refuse()
                return handler(form.cleaned_data)
            except Exception:
                # The traceback, redacted: the ingest key (the form's name) and any URL or token.
                detail = redact(traceback.format_exc(), (request.POST.get("name", ""),))
                logger.error("rtmp %s callback failed\n%s", handler.__name__, detail)
                return refuse()

        return view

    return wrap


def hold_for_readers(stream_name: str, readers: tuple[str, ...]) -> None:
    """Answer a publish once its readers are connected, at most ``STREAM_PUBLISH_HOLD_SECONDS``."""
    hold = settings.STREAM_PUBLISH_HOLD_SECONDS
    if not readers or hold <= 0:
        return
    arrived = actions.wait_for_readers(stream_name, readers, hold)
    if arrived < len(readers):
        logger.info("publish answered after %ss with %s of %s readers", hold, arrived, len(readers))


@rtmp_callback("live", ("publish",))
def on_publish(data: dict[str, str]) -> HttpResponse:
    answer = actions.accept_publish(data["name"], data["node"])
    if answer.stream_name is None:
        logger.info("publish refused on node %s: %s", data["node"], answer.reason)
        return refuse()
    try:
        hold_for_readers(answer.stream_name, answer.readers)
    except Exception:
        # Refused after all (the 403 below): nothing of this publish may stay behind.
        actions.abandon_publish(answer)
        raise
    response = HttpResponse(status=302)
    response["Location"] = answer.stream_name
    return response


@rtmp_callback("live", ("play",))
def on_play(data: dict[str, str]) -> HttpResponse:
    """A local relay, encoder or probe starts reading a session's stream (nginx allows loopback only)."""
    if not actions.reader_arrived(data["name"], data.get("reader", "")):
        return refuse()
    return HttpResponse("ok", content_type="text/plain")


@rtmp_callback("live", ("publish_done",))
def on_publish_done(data: dict[str, str]) -> HttpResponse:
    name = actions.stream_name_for(data["name"], data["node"])
    if name is not None:
        actions.publisher_left(name)
    return HttpResponse("ok", content_type="text/plain")


@rtmp_callback("live", ("update_publish", "update_play"))
def on_update(data: dict[str, str]) -> HttpResponse:
    """nginx asks this every ``RTMP_UPDATE_SECONDS`` for each publisher and each reader; anything
    but 2xx drops that connection. A reader (relay, encoder, recorder, probe) may stay while its
    session is open."""
    if data["call"] == "update_play":
        return (
            HttpResponse("ok", content_type="text/plain") if actions.session_open(data["name"]) else refuse()
        )
    name = actions.stream_name_for(data["name"], data["node"])
    if name is None or not actions.may_keep_publishing(name):
        return refuse()
    return HttpResponse("ok", content_type="text/plain")


@rtmp_callback(RENDITION_APP, ("publish",))
def on_rendition_publish(data: dict[str, str]) -> HttpResponse:
    """One of our encoders publishes a session's rendition (nginx allows loopback only): held,
    like the source's publish, until the relays and the recorder that read it are connected, so
    a branded destination and a branded recording start with the rendition's first frame."""
    readers = actions.rendition_readers(data["name"])
    if readers is None:
        return refuse()
    hold_for_readers(data["name"], readers)
    return HttpResponse("ok", content_type="text/plain")


@rtmp_callback(RENDITION_APP, ("play",))
def on_rendition_play(data: dict[str, str]) -> HttpResponse:
    """A relay or recorder starts reading a session's rendition (loopback only)."""
    if not actions.rendition_reader_arrived(data["name"], data.get("reader", "")):
        return refuse()
    return HttpResponse("ok", content_type="text/plain")
