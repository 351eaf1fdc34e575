from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import plan_limits_for
from billing.plans import PLANS_IN_ORDER


def pricing(request: HttpRequest) -> HttpResponse:
    current = plan_limits_for(request.user) if request.user.is_authenticated else None
    return render(request, "billing/pricing.html", {"plans": PLANS_IN_ORDER, "current": current})
