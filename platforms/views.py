"""The Destinations page: list, connect, add a custom server, switch on/off, disconnect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import plan_limits_for
from billing.prompts import flash_upgrade_prompt
from platforms import actions
from platforms.forms import CustomDestinationForm
from platforms.models import PlatformConnection
from platforms.providers import platform_choices


@login_required
def destinations(request: HttpRequest) -> HttpResponse:
    form = CustomDestinationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = actions.add_custom_destination(
            request.user.pk, data["name"], data["rtmp_url"], data["stream_key"], data["include_in_stream"]
        )
        messages.success(request, f"{saved.connection} added.")
        if saved.refused is not None:
            messages.info(request, "It was saved switched off.")
            flash_upgrade_prompt(request, saved.refused)
        return redirect("platforms:destinations")
    context = {
        "connections": request.user.connections.all(),
        "plan": plan_limits_for(request.user),
        "form": form,
        "platforms": platform_choices(request),
    }
    return render(request, "platforms/destinations.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def toggle(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(PlatformConnection, pk=pk, user=request.user)
    decision = actions.set_included(request.user.pk, pk, request.POST.get("include") == "1")
    if not decision:
        flash_upgrade_prompt(request, decision)
    return redirect("platforms:destinations")


@login_required
def disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(PlatformConnection, pk=pk, user=request.user)
    if request.method != "POST":
        return render(request, "platforms/disconnect.html", {"connection": connection})
    actions.disconnect(request.user.pk, pk)
    messages.success(request, f"{connection} disconnected; its tokens and key are deleted.")
    return redirect("platforms:destinations")
