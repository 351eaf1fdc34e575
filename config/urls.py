from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from config.health import healthz

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("pricing/", include("billing.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("destinations/", include("platforms.urls")),
    path("api/destinations/", include("platforms.api_urls")),
    path("studio/", include("studio.urls")),
    path("recordings/", include("recordings.urls")),
    path("", include("streaming.urls")),
]
