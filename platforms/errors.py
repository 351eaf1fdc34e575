"""What can go wrong talking to a platform, in our own words. Messages are for the creator: no secrets."""

from __future__ import annotations


class PlatformError(Exception):
    """A platform refused or failed; ``message`` is written for the creator and holds no secret."""

    def __init__(self, message: str, *, needs_reconnect: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.needs_reconnect = needs_reconnect


class Unauthorized(PlatformError):
    """The access token was refused (expired or revoked): refresh it, or ask for a reconnect."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} no longer accepts Prism's access: reconnect it.", needs_reconnect=True)
