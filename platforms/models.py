"""Where a creator streams to: a connected platform account or a custom RTMP(S) server."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models, transaction

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

    @property
    def provider_id(self) -> str:
        """The allauth provider this destination was connected through ("" for custom servers)."""
        return {"YOUTUBE": "google", "TWITCH": "twitch", "FACEBOOK": "facebook"}.get(self.kind, "")

    def store_tokens(self, access_token: str, refresh_token: str, expires_at: datetime | None) -> None:
        """Keep a renewed grant. An empty ``refresh_token`` keeps the one stored (Google does not rotate)."""
        with transaction.atomic():
            row = PlatformConnection.objects.select_for_update().get(pk=self.pk)
            row.access_token = access_token
            row.refresh_token = refresh_token or row.refresh_token
            row.token_expires_at = expires_at
            if row.state == self.State.NEEDS_REAUTH:
                row.state = self.State.CONNECTED
            row.save(
                update_fields=["access_token", "refresh_token", "token_expires_at", "state", "updated_at"]
            )
        self.access_token, self.refresh_token = row.access_token, row.refresh_token
        self.token_expires_at, self.state = row.token_expires_at, row.state

    def mark_needs_reauth(self) -> None:
        """The platform refused our tokens for good: the creator must reconnect. Left out of streams."""
        with transaction.atomic():
            row = PlatformConnection.objects.select_for_update().get(pk=self.pk)
            row.state = self.State.NEEDS_REAUTH
            row.save(update_fields=["state", "updated_at"])
        self.state = row.state
