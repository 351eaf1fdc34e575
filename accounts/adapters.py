"""allauth customisation: e-mail-only accounts with lower-cased addresses.

Social accounts (a platform connected as a destination) are the platforms app's:
``platforms.adapters.SocialAccountAdapter``."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return super().clean_email(email).lower()
