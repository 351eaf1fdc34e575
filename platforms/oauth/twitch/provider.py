from __future__ import annotations

from allauth.socialaccount.providers.twitch.provider import TwitchProvider

from platforms.oauth.twitch.views import PrismTwitchOAuth2Adapter


class PrismTwitchProvider(TwitchProvider):
    oauth2_adapter_class = PrismTwitchOAuth2Adapter
