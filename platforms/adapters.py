"""allauth's social accounts only ever CONNECT a destination to a logged-in creator (never sign
anyone up or in); the tokens go into an encrypted PlatformConnection and nowhere else."""

from __future__ import annotations

from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from platforms.actions import connect_platform
from platforms.connect import PlatformAccount
from platforms.errors import PlatformError
from platforms.oauth.grants import account_from
from platforms.providers import provider_named

KINDS = {"google": "YOUTUBE", "twitch": "TWITCH", "facebook": "FACEBOOK"}
CONNECT_ONLY = "Connected platforms are destinations, not a way to sign in: log in with your e-mail first."


def not_set_up_response(request: HttpRequest, provider_id: str) -> HttpResponse:
    platform = provider_named(provider_id)
    context = {
        "label": platform.label if platform else provider_id,
        "variables": platform.variables if platform else (),
    }
    return render(request, "platforms/not_set_up.html", context, status=404)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """The allauth boundary: take the tokens into an encrypted PlatformConnection, then drop them
        from the sociallogin so allauth keeps nothing (SOCIALACCOUNT_STORE_TOKENS is off as well)."""
        destinations = reverse("platforms:destinations")
        if sociallogin.state.get("process") != "connect" or not request.user.is_authenticated:
            messages.error(request, CONNECT_ONLY)
            raise ImmediateHttpResponse(HttpResponseRedirect(reverse("account_login")))
        if sociallogin.is_existing and sociallogin.user != request.user:
            messages.error(request, "That platform account is already connected to another Prism account.")
            raise ImmediateHttpResponse(HttpResponseRedirect(destinations))
        provider = sociallogin.account.provider
        try:
            account: PlatformAccount = account_from(provider, sociallogin)
            saved = connect_platform(request.user.pk, KINDS[provider], account)
        except PlatformError as exc:
            messages.error(request, exc.message)
            raise ImmediateHttpResponse(HttpResponseRedirect(destinations)) from None
        finally:
            sociallogin.token = None  # type: ignore[assignment]
        if saved.refused is not None:
            messages.warning(request, f"{saved.connection} was added switched off: {saved.refused.message}")

    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        """A platform without an OAuth app on this server answers 404 "not set up on this server"
        (allauth's views and middleware turn ImmediateHttpResponse into the response), not a 500."""
        try:
            return super().get_app(request, provider, client_id)
        except SocialApp.DoesNotExist:
            raise ImmediateHttpResponse(not_set_up_response(request, provider)) from None

    def get_connect_redirect_url(self, request: HttpRequest, socialaccount: Any) -> str:
        return reverse("platforms:destinations")

    def validate_disconnect(self, account: Any, accounts: Any) -> None:
        raise ValidationError("Disconnect platforms on the Destinations page.")
