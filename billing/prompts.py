"""The upgrade prompt: how a refused plan-limit decision reaches a page, or a JSON client."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.html import format_html

from billing.plans import Decision

UPGRADE_STATUS = 402  # Payment Required: the action is valid, the plan does not cover it


def upgrade_url() -> str:
    return settings.SITE_URL + reverse("billing:pricing")


def upgrade_prompt_body(decision: Decision) -> dict[str, object]:
    return {
        "error": {
            "code": str(decision.code),
            "message": decision.message,
            "upgrade_url": upgrade_url(),
            "upgrade_to": str(decision.upgrade_to) if decision.upgrade_to else None,
        }
    }


def upgrade_prompt_response(decision: Decision) -> JsonResponse:
    """A 402 JSON answer with a machine-readable code and where to upgrade."""
    return JsonResponse(upgrade_prompt_body(decision), status=UPGRADE_STATUS)


def flash_upgrade_prompt(request: HttpRequest, decision: Decision) -> None:
    """A page message that says what the plan allows and links to Pricing."""
    messages.warning(
        request,
        format_html('{} <a href="{}">See plans</a>', decision.message, reverse("billing:pricing")),
        extra_tags="upgrade",
    )
