"""Which platforms this server can connect: a platform needs an OAuth app (client id and secret from
its developer console). One without it is shown as "not set up on this server", never as a button
that ends in a 500; staff are told which variables to set."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class PlatformProvider:
    provider_id: str  # allauth's
    label: str
    variables: tuple[str, str]  # what to set in the environment to configure its OAuth app


PROVIDERS: tuple[PlatformProvider, ...] = (
    PlatformProvider("google", "YouTube", ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")),
    PlatformProvider("twitch", "Twitch", ("TWITCH_CLIENT_ID", "TWITCH_CLIENT_SECRET")),
    PlatformProvider("facebook", "Facebook", ("FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET")),
)


def provider_named(provider_id: str) -> PlatformProvider | None:
    return next((p for p in PROVIDERS if p.provider_id == provider_id), None)


def is_configured(request: HttpRequest | None, provider_id: str) -> bool:
    """Has this server an OAuth app for ``provider_id`` (in settings or as a SocialApp row)?"""
    from allauth.socialaccount.adapter import get_adapter

    return bool(get_adapter(request).list_apps(request, provider=provider_id))


def platform_choices(request: HttpRequest) -> list[dict[str, object]]:
    """For the Destinations page: each platform, whether it can be connected here, and what to set."""
    return [
        {
            "provider": p.provider_id,
            "label": p.label,
            "configured": is_configured(request, p.provider_id),
            "variables": p.variables,
        }
        for p in PROVIDERS
    ]
