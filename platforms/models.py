"""Where a creator streams to: a connected platform account or a custom RTMP(S) server."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from platforms.encryption import EncryptedTextField


class PlatformConnection(models.Model):
    class Kind(models.TextChoices):
        YOUTUBE = "YOUTUBE", "YouTube"
        TWITCH = "TWITCH", "Twitch"
        FACEBOOK = "FACEBOOK", "Facebook"
        CUSTOM = "CUSTOM", "Custom RTMP"

    class State(models.TextChoices):
        CONNECTED = "CONNECTED", "Connected"
        NEEDS_REAUTH = "NEEDS_REAUTH", "Needs reconnect"
        INACTIVE_PLAN = "INACTIVE_PLAN", "Inactive (plan limit)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=120, help_text="Channel name, or the label of a custom server.")
    account_id = models.CharField(max_length=255, blank=True, help_text="The platform's id for the account.")
    rtmp_url = models.CharField(max_length=500, blank=True, help_text="Ingest server URL, without the key.")
    stream_key = EncryptedTextField(blank=True, default="")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    platform_stream_id = models.CharField(
        max_length=255, blank=True, help_text="e.g. YouTube's liveStream id."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.CONNECTED)
    include_in_stream = models.BooleanField(
        default=True, help_text="Stream to it when the creator goes live."
    )
    connected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=~models.Q(kind="CUSTOM"),
                name="one_connection_per_platform",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def masked_key(self) -> str:
        """At most the last four characters of the key, for display."""
        key = self.stream_key or ""
        return f"••••{key[-4:]}" if len(key) > 8 else ("••••" if key else "")
