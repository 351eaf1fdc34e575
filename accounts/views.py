from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.notices import dismiss


@login_required
def account_overview(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/overview.html")


@login_required
@require_POST
def dismiss_notice(request: HttpRequest, notice_id: int) -> HttpResponse:
    dismiss(request.user.pk, notice_id)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "/"
    return redirect(back)
