from __future__ import annotations

from allauth.socialaccount.providers.facebook.provider import FacebookProvider

from platforms.oauth.facebook.views import PrismFacebookOAuth2Adapter


class PrismFacebookProvider(FacebookProvider):
    oauth2_adapter_class = PrismFacebookOAuth2Adapter
