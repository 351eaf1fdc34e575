"""Reading what allauth's finished login holds (account id, name, tokens) into our PlatformAccount."""

from __future__ import annotations

from allauth.socialaccount.models import SocialLogin

from platforms import facebook
from platforms.connect import PlatformAccount
from platforms.errors import PlatformError


def account_from(provider: str, sociallogin: SocialLogin) -> PlatformAccount:
    """The platform account of a finished OAuth login. Facebook's short-lived token is swapped for a
    long-lived one here, as Facebook issues no refresh token."""
    token = sociallogin.token
    if token is None or not token.token:
        raise PlatformError("The platform did not grant Prism access; try connecting again.")
    data = sociallogin.account.extra_data or {}
    uid = str(sociallogin.account.uid)
    if provider == "facebook":
        grant = facebook.exchange_long_lived(token.token)
        return PlatformAccount(
            uid, str(data.get("name") or "Facebook"), grant.access_token, "", grant.expires_at
        )
    if provider == "twitch":
        name = str(data.get("display_name") or data.get("login") or "Twitch")
    else:
        name = str(data.get("name") or data.get("email") or "YouTube")
    return PlatformAccount(uid, name, token.token, token.token_secret or "", token.expires_at)
