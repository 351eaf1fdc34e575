"""The creator's studio: ingest key, next stream's quality, the live panel and the local preview."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from billing.models import plan_limits_for
from billing.plans import PLANS_IN_ORDER, check_quality, shows_branding
from billing.prompts import flash_upgrade_prompt, upgrade_prompt_response
from core.quality import PRESETS, is_within, preset_named, session_ceiling
from platforms.models import PlatformConnection
from streaming import actions
from streaming.adaptive import HOLD_SECONDS, WARMUP_SECONDS, preset_table
from streaming.consumers import stop_own_session
from streaming.models import IngestKey
from studio import preview
from studio.forms import QualityForm, RevealKeyForm, StopForm
from studio.models import StudioSettings

MIXER_CHANNELS = (("mic", "Microphone"), ("screen", "Screen audio"), ("music", "Music"))
# The browser studio's scripts, in load order (each adds to window.PrismStudio; main wires them).
STUDIO_MODULES = tuple(
    f"js/studio/{name}.js" for name in ("adaptive", "devices", "compositor", "mixer", "whip", "main")
)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def quality_choices(plan_max: str) -> list[dict[str, object]]:
    """Every preset, whether the plan allows it, and else the cheapest plan that does (for its badge)."""
    return [
        {
            "name": preset.name,
            "label": preset.label,
            "allowed": is_within(preset.name, plan_max),
            "needs": next(p.title for p in PLANS_IN_ORDER if is_within(preset.name, p.max_quality)),
        }
        for preset in PRESETS
    ]


@login_required
@never_cache
def studio_home(request: HttpRequest) -> HttpResponse:
    plan = plan_limits_for(request.user)
    connections = PlatformConnection.objects.filter(
        user=request.user, include_in_stream=True, state=PlatformConnection.State.CONNECTED
    ).order_by("pk")
    preferred = StudioSettings.preferred_quality_of(request.user.pk)
    context = {
        "rtmp_url": settings.RTMP_PUBLIC_URL,
        "whip_url": getattr(settings, "WHIP_PUBLIC_URL", ""),
        "masked_key": IngestKey.for_user(request.user).masked,
        "plan": plan,
        "qualities": quality_choices(plan.max_quality),
        "current_quality": session_ceiling(preferred, plan.max_quality),
        "destinations": [(c, preview.is_local_test_destination(c)) for c in connections],
        "browser_studio": {
            # What the studio's JavaScript reads (rendered with json_script): the presets and the
            # adaptive rule's constants come from Python so the page cannot drift from them.
            "presets": preset_table(),
            "holdSeconds": HOLD_SECONDS,
            "warmupSeconds": WARMUP_SECONDS,
            "planMax": plan.max_quality,
            "ceiling": session_ceiling(preferred, plan.max_quality),
            "branding": shows_branding(plan),
            "audio": StudioSettings.audio_settings_of(request.user.pk),
            "sampleRates": [rate for rate, _ in StudioSettings.SAMPLE_RATE_CHOICES],
        },
    }
    ceiling = preset_named(context["current_quality"])
    context["browser_studio_size"] = (ceiling.width, ceiling.height)  # the program canvas: the ceiling's size
    context["mixer_channels"] = MIXER_CHANNELS
    context["studio_modules"] = STUDIO_MODULES
    return render(request, "studio/home.html", context)


REVEAL_ATTEMPTS = 5
REVEAL_WINDOW_SECONDS = 15 * 60


@login_required
@require_POST
@never_cache
def reveal_key(request: HttpRequest) -> JsonResponse:
    """The full ingest key, only in answer to a POST that re-enters the password.

    Wrong passwords are counted per user: after REVEAL_ATTEMPTS within REVEAL_WINDOW_SECONDS the
    form stops answering (429), so a stolen session cannot be used to guess the password here.
    """
    failures_key = f"reveal-key-failures:{request.user.pk}"
    minutes = REVEAL_WINDOW_SECONDS // 60
    if cache.get(failures_key, 0) >= REVEAL_ATTEMPTS:
        message = (
            f"Too many wrong passwords. Try again in {minutes} minutes, "
            "or reset your password if you have forgotten it."
        )
        return JsonResponse({"error": {"message": message}}, status=429)
    form = RevealKeyForm(request.user, request.POST)
    if not form.is_valid():
        cache.add(failures_key, 0, REVEAL_WINDOW_SECONDS)  # the window starts at the first failure
        failures = cache.incr(failures_key)
        left = max(REVEAL_ATTEMPTS - failures, 0)
        message = "That is not your password." + (
            f" {left} more {'try' if left == 1 else 'tries'} before a {minutes}-minute wait." if left else ""
        )
        return JsonResponse({"error": {"message": message}}, status=403)
    cache.delete(failures_key)
    return JsonResponse({"key": IngestKey.for_user(request.user).key})


@login_required
@require_POST
def regenerate_key(request: HttpRequest) -> HttpResponse:
    actions.regenerate_ingest_key(request.user)
    messages.success(request, "New ingest key made. The old key stopped working: update OBS.")
    return redirect("studio:home")


@login_required
@require_POST
def set_quality(request: HttpRequest) -> HttpResponse:
    form = QualityForm(request.POST)
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"error": {"message": "Choose one of the listed qualities."}}, status=400)
        messages.error(request, "Choose one of the listed qualities.")
        return redirect("studio:home")
    quality = form.cleaned_data["quality"]
    decision = check_quality(plan_limits_for(request.user), quality)
    if not decision:
        if wants_json(request):
            return upgrade_prompt_response(decision)
        flash_upgrade_prompt(request, decision)
        return redirect("studio:home")
    StudioSettings.set_preferred_quality(request.user.pk, quality)
    if wants_json(request):
        return JsonResponse({"quality": quality})
    messages.success(request, f"Your next stream goes out at up to {quality}.")
    return redirect("studio:home")


@login_required
@require_POST
def add_test_destination(request: HttpRequest) -> HttpResponse:
    saved = actions.add_local_test_destination(request.user)
    if saved.refused is not None:
        messages.info(request, "Local test destination added, switched off: your plan has no room for it.")
        flash_upgrade_prompt(request, saved.refused)
    else:
        messages.success(request, "Local test destination added: publish, then open its preview.")
    return redirect("studio:home")


@login_required
@require_POST
def stop(request: HttpRequest) -> HttpResponse:
    form = StopForm(request.POST)
    stopped = form.is_valid() and stop_own_session(request.user.pk, form.cleaned_data["session"])
    if wants_json(request):
        return JsonResponse({"stopping": stopped}, status=200 if stopped else 404)
    if stopped:
        messages.success(request, "Stopping your stream.")
    else:
        messages.error(request, "That stream is not running.")
    return redirect("studio:home")


def _test_destination(request: HttpRequest, pk: int) -> PlatformConnection:
    connection = get_object_or_404(PlatformConnection, pk=pk, user=request.user)
    if not preview.is_local_test_destination(connection):
        raise Http404("not a local test destination")
    return connection


@login_required
def preview_page(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _test_destination(request, pk)
    return render(request, "studio/preview.html", {"connection": connection})


@login_required
@never_cache
def preview_file(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    found = preview.hls_file(_test_destination(request, pk).stream_key, name)
    if found is None:
        raise Http404("no such preview file (yet)")
    content, content_type = found
    return HttpResponse(content, content_type=content_type)
