"""The creator's studio preferences (what the next stream should look like)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.quality import PRESET_NAMES


class StudioSettings(models.Model):
    """One row per creator; created on the first change, absent means "the plan's best"."""

    QUALITY_CHOICES = [(name, name) for name in PRESET_NAMES]
    # The mix's rate (the page's AudioContext), not the capture's: Chromium captures with noise
    # suppression and echo cancellation only at 48 kHz. 48 kHz is what Opus runs at.
    SAMPLE_RATE_CHOICES = [(48000, "48 kHz"), (44100, "44.1 kHz")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="studio")
    preferred_quality = models.CharField(max_length=16, choices=QUALITY_CHOICES, blank=True)
    # The browser studio's microphone processing (property 5). Noise suppression and echo
    # cancellation are not settings: the page always asks for both.
    auto_gain_control = models.BooleanField(default=True)
    sample_rate = models.PositiveIntegerField(choices=SAMPLE_RATE_CHOICES, default=48000)
    next_title = models.CharField(
        max_length=200, blank=True, help_text="The title of the next stream started from the browser studio."
    )

    def __str__(self) -> str:
        return f"studio settings of {self.user_id}"

    @classmethod
    def preferred_quality_of(cls, user_id: int) -> str:
        """The quality the creator chose for their next stream, or "" for the plan's highest."""
        return cls.objects.filter(user_id=user_id).values_list("preferred_quality", flat=True).first() or ""

    @classmethod
    def set_preferred_quality(cls, user_id: int, quality: str) -> None:
        cls.objects.update_or_create(user_id=user_id, defaults={"preferred_quality": quality})

    @classmethod
    def audio_settings_of(cls, user_id: int) -> dict[str, object]:
        """The page's audio settings: getUserMedia's constraints (the two fixed ones included,
        property 5) and the sample rate of the mix that goes out."""
        row = cls.objects.filter(user_id=user_id).values("auto_gain_control", "sample_rate").first()
        defaults = {"auto_gain_control": True, "sample_rate": 48000}
        chosen = row or defaults
        return {
            "noiseSuppression": True,
            "echoCancellation": True,
            "autoGainControl": bool(chosen["auto_gain_control"]),
            "sampleRate": int(chosen["sample_rate"]),
        }

    @classmethod
    def set_audio_settings(cls, user_id: int, auto_gain_control: bool, sample_rate: int) -> None:
        cls.objects.update_or_create(
            user_id=user_id, defaults={"auto_gain_control": auto_gain_control, "sample_rate": sample_rate}
        )

    @classmethod
    def set_next_title(cls, user_id: int, title: str) -> None:
        cls.objects.update_or_create(user_id=user_id, defaults={"next_title": title})

    @classmethod
    def next_title_of(cls, user_id: int) -> str:
        """The title last given in the studio (kept for the next streams too; "" when none)."""
        return cls.objects.filter(user_id=user_id).values_list("next_title", flat=True).first() or ""
