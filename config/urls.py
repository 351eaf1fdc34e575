from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from billing.webhook_guard import verified_webhook
from config.health import healthz

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("pricing/", include("billing.urls")),
    # Checked before dj-stripe stores anything (billing/webhook_guard.py); same path as dj-stripe's own.
    path("stripe/webhook/<uuid:uuid>/", verified_webhook, name="stripe_webhook"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("destinations/", include("platforms.urls")),
    path("api/destinations/", include("platforms.api_urls")),
    path("studio/", include("studio.urls")),
    path("recordings/", include("recordings.urls")),
    path("", include("streaming.urls")),
]
