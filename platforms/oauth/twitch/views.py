"""allauth's Twitch adapter hard-codes its URLs as class attributes; these read settings instead."""

from __future__ import annotations

from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.twitch.views import TwitchOAuth2Adapter
from django.conf import settings


class PrismTwitchOAuth2Adapter(TwitchOAuth2Adapter):
    @property  # type: ignore[override]
    def authorize_url(self) -> str:
        return settings.TWITCH_ID_BASE + "/oauth2/authorize"

    @property  # type: ignore[override]
    def access_token_url(self) -> str:
        return settings.TWITCH_ID_BASE + "/oauth2/token"

    @property  # type: ignore[override]
    def profile_url(self) -> str:
        return settings.TWITCH_API_BASE + "/users"


oauth2_login = OAuth2LoginView.adapter_view(PrismTwitchOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(PrismTwitchOAuth2Adapter)
