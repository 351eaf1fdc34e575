"""The creator's studio preferences (what the next stream should look like)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.quality import PRESET_NAMES


class StudioSettings(models.Model):
    """One row per creator; created on the first change, absent means "the plan's best"."""

    QUALITY_CHOICES = [(name, name) for name in PRESET_NAMES]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="studio")
    preferred_quality = models.CharField(max_length=16, choices=QUALITY_CHOICES, blank=True)

    def __str__(self) -> str:
        return f"studio settings of {self.user_id}"

    @classmethod
    def preferred_quality_of(cls, user_id: int) -> str:
        """The quality the creator chose for their next stream, or "" for the plan's highest."""
        return cls.objects.filter(user_id=user_id).values_list("preferred_quality", flat=True).first() or ""

    @classmethod
    def set_preferred_quality(cls, user_id: int, quality: str) -> None:
        cls.objects.update_or_create(user_id=user_id, defaults={"preferred_quality": quality})
