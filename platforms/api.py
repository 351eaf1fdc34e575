"""JSON API for destinations: GET list, POST custom, PATCH toggle, DELETE. Session auth + CSRF.

No response ever holds a token or a key: ``as_json`` is the only shape a destination leaves in.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from billing.prompts import upgrade_prompt_body, upgrade_prompt_response
from platforms import actions
from platforms.forms import CustomDestinationForm
from platforms.models import PlatformConnection


def as_json(connection: PlatformConnection) -> dict[str, Any]:
    return {
        "id": connection.pk,
        "kind": connection.kind,
        "name": connection.name,
        "state": connection.state,
        "include_in_stream": connection.include_in_stream,
        "masked_key": connection.masked_key,
        "connected_at": connection.connected_at.isoformat(),
    }


def error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)


def _body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _auth(view: Any) -> Any:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error(401, "not_authenticated", "Log in first.")
        return view(request, *args, **kwargs)

    return wrapped


@_auth
@require_http_methods(["GET", "POST"])
def collection(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"destinations": [as_json(c) for c in request.user.connections.all()]})
    body = _body(request)
    if body is None:
        return error(400, "invalid_json", "Send a JSON object.")
    form = CustomDestinationForm({**body, "include_in_stream": body.get("include_in_stream", True) or ""})
    if not form.is_valid():
        return error(400, "invalid", "Check the fields.", fields={k: list(v) for k, v in form.errors.items()})
    data = form.cleaned_data
    saved = actions.add_custom_destination(
        request.user.pk, data["name"], data["rtmp_url"], data["stream_key"], data["include_in_stream"]
    )
    answer: dict[str, Any] = {"destination": as_json(saved.connection)}
    if saved.refused is not None:
        answer["switched_off"] = upgrade_prompt_body(saved.refused)["error"]
    return JsonResponse(answer, status=201)


@_auth
@require_http_methods(["PATCH", "DELETE"])
def item(request: HttpRequest, pk: int) -> HttpResponse:
    if not PlatformConnection.objects.filter(pk=pk, user=request.user).exists():
        return error(404, "not_found", "No such destination.")
    if request.method == "DELETE":
        actions.disconnect(request.user.pk, pk)
        return HttpResponse(status=204)
    body = _body(request)
    if body is None or not isinstance(body.get("include_in_stream"), bool):
        return error(400, "invalid", 'Send {"include_in_stream": true|false}.')
    decision = actions.set_included(request.user.pk, pk, body["include_in_stream"])
    if not decision:
        return upgrade_prompt_response(decision)
    return JsonResponse({"destination": as_json(PlatformConnection.objects.get(pk=pk))})
