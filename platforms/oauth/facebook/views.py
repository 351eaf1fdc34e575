"""allauth's Facebook adapter fixes GRAPH_API_URL at import (constants.py, flows.py); read it per request."""

from __future__ import annotations

from typing import Any

import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.facebook.flows import compute_appsecret_proof
from allauth.socialaccount.providers.facebook.views import FacebookOAuth2Adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings

from platforms.facebook import auth_header


class PrismFacebookOAuth2Adapter(FacebookOAuth2Adapter):
    @property  # type: ignore[override]
    def authorize_url(self) -> str:
        return settings.FACEBOOK_DIALOG_BASE + "/dialog/oauth"

    @property  # type: ignore[override]
    def access_token_url(self) -> str:
        return settings.FACEBOOK_GRAPH_BASE + "/oauth/access_token"

    def complete_login(self, request: Any, app: Any, token: Any, **kwargs: Any) -> Any:
        # allauth.socialaccount.providers.facebook.flows.complete_login, with the Graph URL looked up now.
        # The token goes in the Authorization header, not the query string: requests quotes the URL
        # in its exceptions (HTTPError: 500 ... for url: ...), which would reach logs and reports.
        provider = self.get_provider()
        params = {
            "fields": ",".join(provider.get_fields()),
            "appsecret_proof": compute_appsecret_proof(provider.app, token),
        }
        try:
            with get_adapter().get_requests_session() as session:
                response = session.get(
                    settings.FACEBOOK_GRAPH_BASE + "/me", params=params, headers=auth_header(token.token)
                )
                response.raise_for_status()
                extra_data = response.json()
        except (requests.RequestException, ValueError) as exc:
            # Never chain: the original carries the URL (with the appsecret_proof) and the response.
            raise OAuth2Error(f"Facebook did not return the profile ({type(exc).__name__}).") from None
        return provider.sociallogin_from_response(request, extra_data)


oauth2_login = OAuth2LoginView.adapter_view(PrismFacebookOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(PrismFacebookOAuth2Adapter)
