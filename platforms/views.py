from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import plan_limits_for


@login_required
def destinations(request: HttpRequest) -> HttpResponse:
    connections = request.user.connections.all()
    return render(
        request,
        "platforms/destinations.html",
        {"connections": connections, "plan": plan_limits_for(request.user)},
    )
