"""allauth customisation: e-mail-only accounts, lower-cased addresses."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return super().clean_email(email).lower()


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    pass
