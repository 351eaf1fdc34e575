from __future__ import annotations

from allauth.socialaccount.providers.google.provider import GoogleProvider

from platforms.oauth.google.views import PrismGoogleOAuth2Adapter


class PrismGoogleProvider(GoogleProvider):
    """Registered in place of allauth's through SOCIALACCOUNT_PROVIDERS["google"]["provider_class"].

    get_package() is this package, so allauth.urls includes platforms.oauth.google.urls, whose
    callback view is bound to our adapter.
    """

    oauth2_adapter_class = PrismGoogleOAuth2Adapter
