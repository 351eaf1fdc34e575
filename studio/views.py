from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def studio_home(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/home.html", {"rtmp_url": settings.RTMP_PUBLIC_URL})
