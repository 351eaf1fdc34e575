"""Recordings of live sessions: one per session when the creator records, counted against the plan.

A ``Recording`` is held under a lease like a destination (``streaming.models.Leased``): its
recorder is a supervised relay whose output is a local FLV file. While it records, the parts
live in ``recordings/<user>/<session>.parts/``; once the stream ends they are remuxed into one
``recordings/<user>/<session>.mp4`` (moov atom first) and the row is READY.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Sum
from django.utils import timezone

from streaming.models import Leased, StateMachine


class RecordingPreference(models.Model):
    """The creator's "Record my streams" switch."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recording_preference"
    )
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"recording {'on' if self.enabled else 'off'} for {self.user_id}"

    @classmethod
    def is_enabled_for(cls, user_id: int) -> bool:
        return cls.objects.filter(user_id=user_id, enabled=True).exists()


class Recording(StateMachine, Leased):
    class State(models.TextChoices):
        RECORDING = "RECORDING", "Recording"
        READY = "READY", "Ready"
        FAILED = "FAILED", "Failed"
        DELETED = "DELETED", "Deleted"

    class Desired(models.TextChoices):
        RUN = "RUN", "Run"
        STOP = "STOP", "Stop"

    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        State.RECORDING: {State.READY, State.FAILED, State.DELETED},
        State.READY: {State.DELETED},
        State.FAILED: {State.DELETED},
        State.DELETED: set(),
    }
    FINISHED: ClassVar[tuple[str, ...]] = (State.READY, State.FAILED, State.DELETED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recordings")
    session = models.OneToOneField(
        "streaming.StreamSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="recording"
    )
    file = models.FileField(max_length=300, blank=True)
    bytes = models.PositiveBigIntegerField(default=0)
    duration = models.DurationField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECORDING)
    desired = models.CharField(max_length=8, choices=Desired.choices, default=Desired.RUN)
    message = models.CharField(max_length=300, blank=True, help_text="Why it stopped early or failed.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "state"])]

    def __str__(self) -> str:
        return f"recording {self.pk} of session {self.session_id} ({self.state})"

    @property
    def base_name(self) -> str:
        """Storage name without extension: ``recordings/<user>/<session>``."""
        return f"recordings/{self.user_id}/{self.session_id or f'r{self.pk}'}"

    @property
    def parts_name(self) -> str:
        return f"{self.base_name}.parts"

    def apply_transition(self, previous: str, state: str, message: str) -> list[str]:
        if not message:
            return []
        self.message = message[:300]
        return ["message"]

    def event_fields(self, message: str) -> None:
        """A recording's moves are not stream events: the session's log says what matters."""
        return None


def storage_used(user_id: int, excluding: int | None = None) -> int:
    """Bytes of the user's recordings that count against the quota: every one not DELETED."""
    rows = Recording.objects.filter(user_id=user_id).exclude(state=Recording.State.DELETED)
    if excluding is not None:
        rows = rows.exclude(pk=excluding)
    return int(rows.aggregate(total=Sum("bytes"))["total"] or 0)


def recorder_tag(recording_id: int) -> str:
    """How the recorder names itself to on_play, so the publish is held until it is connected."""
    return f"r{recording_id}"
