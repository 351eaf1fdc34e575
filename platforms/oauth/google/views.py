"""allauth's Google adapter, with every endpoint read from settings per request, not at import."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings

ID_TOKEN_ISSUER = "https://accounts.google.com"  # noqa: S105 (a URL, not a password)


class PrismGoogleOAuth2Adapter(GoogleOAuth2Adapter):
    @property  # type: ignore[override]
    def authorize_url(self) -> str:
        return settings.GOOGLE_ACCOUNTS_BASE + "/o/oauth2/v2/auth"

    @property  # type: ignore[override]
    def access_token_url(self) -> str:
        return settings.GOOGLE_OAUTH_BASE + "/token"

    @property  # type: ignore[override]
    def identity_url(self) -> str:
        return settings.GOOGLE_API_BASE + "/oauth2/v2/userinfo"

    def _decode_id_token(self, app: Any, id_token: str) -> dict[str, Any]:
        # allauth's own, with the certificate URL looked up now instead of at import. In the code flow
        # the id_token came straight from Google over TLS, so (like allauth) the signature is not checked.
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=settings.GOOGLE_API_BASE + "/oauth2/v1/certs",
            issuer=ID_TOKEN_ISSUER,
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_pem_x509_certificate,
            verify_signature=not self.did_fetch_access_token,
        )


oauth2_login = OAuth2LoginView.adapter_view(PrismGoogleOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(PrismGoogleOAuth2Adapter)
