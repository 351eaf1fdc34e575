"""The Recordings page: the switch, usage, the list, owner-only downloads, delete with confirmation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import plan_limits_for
from billing.prompts import flash_upgrade_prompt
from recordings import actions
from recordings.forms import RecordingPreferenceForm
from recordings.models import Recording, RecordingPreference, storage_used
from recordings.quota import may_start_recording


@login_required
def recordings_list(request: HttpRequest) -> HttpResponse:
    plan = plan_limits_for(request.user)
    used = storage_used(request.user.pk)
    return render(
        request,
        "recordings/list.html",
        {
            "recordings": Recording.objects.filter(user=request.user).exclude(state=Recording.State.DELETED),
            "enabled": RecordingPreference.is_enabled_for(request.user.pk),
            "plan": plan,
            "used": used,
            "quota": plan.storage_bytes,
            "percent": min(100, round(100 * used / plan.storage_bytes)) if plan.storage_bytes else 100,
            "may_record": may_start_recording(plan, used),
        },
    )


@login_required
@require_POST
def set_preference(request: HttpRequest) -> HttpResponse:
    form = RecordingPreferenceForm(request.POST)
    enabled = form.is_valid() and form.cleaned_data["enabled"]
    actions.set_recording_enabled(request.user, enabled)
    decision = may_start_recording(plan_limits_for(request.user), storage_used(request.user.pk))
    if enabled and not decision:
        flash_upgrade_prompt(request, decision)
    else:
        messages.success(request, "Your streams will be recorded." if enabled else "Recording is off.")
    return redirect("recordings:list")


@login_required
def download(request: HttpRequest, recording_id: int) -> FileResponse:
    # Only the owner's READY recordings; anyone else gets the same 404 as for a missing one.
    recording = get_object_or_404(Recording, pk=recording_id, user=request.user, state=Recording.State.READY)
    try:
        handle = recording.file.open("rb")
    except FileNotFoundError:
        raise Http404("This recording's file is missing.") from None
    filename = f"prism-{recording.created_at:%Y%m%d-%H%M}-{recording.pk}.mp4"
    return FileResponse(handle, as_attachment=True, filename=filename, content_type="video/mp4")


@login_required
def delete(request: HttpRequest, recording_id: int) -> HttpResponse:
    recording = get_object_or_404(
        Recording.objects.exclude(state=Recording.State.DELETED), pk=recording_id, user=request.user
    )
    if request.method != "POST":
        return render(request, "recordings/delete.html", {"recording": recording})
    try:
        actions.delete_recording(request.user, recording.pk)
    except actions.RecordingBusy as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Recording deleted; its space is free again.")
    return redirect("recordings:list")
