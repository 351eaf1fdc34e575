"""The restream engine's rows: ingest keys, sessions, one row per destination, encoders, events.

Every long-lived process (a relay per destination, an encoder per rendition) is held under a
lease on its row: a supervisor claims it with compare-and-set, bumps ``lease_token`` (a
fencing token) on every claim and heartbeats with ``filter(lease_token=mine)``, so a stale
holder learns at its next heartbeat that it lost the row and kills its process.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.hooks import Hook
from core.leases import LeaseLost
from core.states import TransitionTable
from platforms.encryption import EncryptedTextField

KEY_PREFIX = "live_"


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# A session's status changed (a StreamEvent was recorded): called after the commit with the
# session's id. The status push (``streaming.status``, registered in StreamingConfig.ready) reads
# these rows, so it sits above them instead of being imported from here.
session_changed: Hook[[int], None] = Hook("session_changed")


class StateMachine(models.Model):
    """One ``state`` field, a ``TRANSITIONS`` table and the only way to change it: ``transition_to``.

    A subclass declares ``TRANSITIONS`` and may override ``apply_transition`` to set the fields
    that go with a state (and return their names) and ``event_fields`` to shape the StreamEvent
    (or return None: no event and no status push, for rows that are not part of the live status).
    """

    TRANSITIONS: ClassVar[dict[str, set[str]]] = {}
    state: str

    class Meta:
        abstract = True

    @classmethod
    def transition_table(cls) -> TransitionTable:
        table = cls.__dict__.get("_transition_table")
        if table is None:
            table = TransitionTable(cls.TRANSITIONS, cls.__name__)
            cls._transition_table = table  # type: ignore[attr-defined]
        return table

    def apply_transition(self, previous: str, state: str, message: str) -> list[str]:
        """Set fields other than ``state`` on this locked row; return their names."""
        return []

    def apply_repeat(self, message: str) -> list[str]:
        """The row is already in the state asked for: fields to refresh anyway (e.g. a new message)."""
        return []

    def event_fields(self, message: str) -> dict[str, object] | None:
        raise NotImplementedError

    def transition_to(
        self, state: str, message: str = "", *, lease_token: int | None = None, **values: object
    ) -> bool:
        """Move to ``state`` under a row lock (setting ``values`` with it) and record a StreamEvent.

        Returns False when the row is already there; raises IllegalTransition for a move the
        table forbids. With ``lease_token`` (a supervisor's write) the move happens only while
        the row's lease carries that token, else LeaseLost: a fenced-off holder changes nothing.
        This instance is refreshed with the fields the move changed.
        """
        model = type(self)
        with transaction.atomic():
            rows = model.objects.select_for_update().filter(pk=self.pk)  # type: ignore[attr-defined]
            if lease_token is not None:
                rows = rows.filter(lease_token=lease_token)
            row = rows.first()
            if row is None and lease_token is None:
                raise model.DoesNotExist(f"{model.__name__} {self.pk}")  # type: ignore[attr-defined]
            if row is None:
                raise LeaseLost(f"{model.__name__} {self.pk}: lease {lease_token} lost")
            previous = row.state
            if previous == state:
                fields = row.apply_repeat(message)
            else:
                self.transition_table().check(previous, state, f"{model.__name__} {self.pk}")
                row.state = state
                for name, value in values.items():
                    setattr(row, name, value)
                fields = ["state", *values, *row.apply_transition(previous, state, message)]
            if fields:
                row.save(update_fields=fields)
                for name in fields:
                    setattr(self, name, getattr(row, name))
            if previous == state:
                return False
            event = row.event_fields(message)
            if event is not None:
                StreamEvent.objects.create(from_state=previous, to_state=state, **event)
                session_id = row.session_pk
                transaction.on_commit(lambda: session_changed.call(session_id))
        return True

    @property
    def session_pk(self) -> int:
        return int(self.session_id)  # type: ignore[attr-defined]


class IngestKey(models.Model):
    """A user's RTMP ingest key: looked up by digest, shown (masked) from the encrypted copy."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ingest_key")
    digest = models.CharField(max_length=64, unique=True)
    # The key this one replaced: a publish with it is still refused, but the creator is told
    # (in the studio) that OBS holds an old key, instead of seeing nothing at all.
    previous_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    key = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ingest key of {self.user_id}"

    @property
    def masked(self) -> str:
        return f"{KEY_PREFIX}••••••••{self.key[-4:]}"

    @classmethod
    def for_user(cls, user: models.Model) -> IngestKey:
        existing = cls.objects.filter(user=user).first()
        return existing or cls.regenerate(user)

    @classmethod
    def regenerate(cls, user: models.Model) -> IngestKey:
        """A fresh key; the old digest is overwritten in the same row, so it stops working at once."""
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        previous = cls.objects.filter(user=user).values_list("digest", flat=True).first() or ""
        row, _ = cls.objects.update_or_create(
            user=user,
            defaults={
                "digest": digest_of(key),
                "previous_digest": previous,
                "key": key,
                "created_at": timezone.now(),
            },
        )
        return row

    @classmethod
    def user_id_for(cls, key: str) -> int | None:
        return cls.objects.filter(digest=digest_of(key)).values_list("user_id", flat=True).first()

    @classmethod
    def user_id_for_previous(cls, key: str) -> int | None:
        """Whose key ``key`` was until they regenerated it (never accepted: only to tell them)."""
        return cls.objects.filter(previous_digest=digest_of(key)).values_list("user_id", flat=True).first()


class StreamSession(StateMachine):
    class State(models.TextChoices):
        STARTING = "STARTING", "Starting"
        LIVE = "LIVE", "Live"
        ENDING = "ENDING", "Ending"
        ENDED = "ENDED", "Ended"
        ERROR = "ERROR", "Error"

    class Desired(models.TextChoices):
        LIVE = "LIVE", "Live"
        STOPPED = "STOPPED", "Stopped"

    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        State.STARTING: {State.LIVE, State.ENDING, State.ERROR},
        State.LIVE: {State.ENDING, State.ERROR},
        State.ENDING: {State.ENDED, State.ERROR},
        State.ENDED: set(),
        State.ERROR: set(),  # final, like ENDED: the creator sees why it failed
    }
    ACTIVE: ClassVar[tuple[str, ...]] = (State.STARTING, State.LIVE)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stream_sessions"
    )
    node = models.CharField(max_length=64)
    stream_name = models.CharField(max_length=40, unique=True)
    title = models.CharField(max_length=200, blank=True)
    quality_ceiling = models.CharField(max_length=16)
    branding = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTING)
    desired = models.CharField(max_length=16, choices=Desired.choices, default=Desired.LIVE)
    publisher_connected = models.BooleanField(default=True)
    publisher_left_at = models.DateTimeField(null=True, blank=True)
    planned = models.BooleanField(default=False)
    source = models.JSONField(
        null=True, blank=True, help_text="What the publisher sends (size, fps, codecs), as probed."
    )
    source_checked = models.BooleanField(
        default=False, help_text="The plan made at publish time was checked against the probed source."
    )
    limit_warned = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="When the plan's duration limit ends the stream (set at start)."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # At most one unfinished session per user: a second publisher is refused.
            models.UniqueConstraint(
                fields=["user"], condition=Q(state__in=["STARTING", "LIVE"]), name="one_open_session"
            )
        ]

    def __str__(self) -> str:
        return f"session {self.pk} ({self.state})"

    @staticmethod
    def new_stream_name() -> str:
        return "s-" + secrets.token_hex(16)

    def apply_transition(self, previous: str, state: str, message: str) -> list[str]:
        fields = []
        if state in (self.State.ENDED, self.State.ERROR) and self.ended_at is None:
            self.ended_at = timezone.now()
            fields.append("ended_at")
        if message and not self.end_reason and state in (self.State.ENDING, self.State.ERROR):
            self.end_reason = message[:300]
            fields.append("end_reason")
        return fields

    def event_fields(self, message: str) -> dict[str, object]:
        return {"session": self, "message": message[:500]}

    @property
    def session_pk(self) -> int:
        return int(self.pk)

    @property
    def minutes_streamed(self) -> float:
        return ((self.ended_at or timezone.now()) - self.started_at).total_seconds() / 60


class Leased(models.Model):
    """A row a single supervisor holds: compare-and-set claim, fencing token, heartbeat."""

    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveBigIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    process_id = models.PositiveIntegerField(null=True, blank=True, help_text="pid of the current process")

    class Meta:
        abstract = True

    @classmethod
    def claimable(cls, now: object) -> Q:
        # Free: never held, expired, or queued by the reconciler (owner "" with a short lease).
        return Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner="")

    @classmethod
    def claim(cls, pk: int, owner: str, seconds: float) -> int | None:
        """Take the row's lease if free; return the new fencing token, or None if someone holds it."""
        now = timezone.now()
        won = (
            cls.objects.filter(pk=pk)
            .filter(cls.claimable(now))
            .update(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=seconds),
                lease_token=F("lease_token") + 1,
                heartbeat_at=now,
            )
        )
        if won != 1:
            return None
        return cls.objects.values_list("lease_token", flat=True).get(pk=pk)

    @classmethod
    def mark_queued(cls, pk: int, seconds: float) -> bool:
        """Reserve a free row for a task about to be queued, so the next pass does not queue it again."""
        now = timezone.now()
        return (
            cls.objects.filter(pk=pk)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_owner="", lease_until=now + timedelta(seconds=seconds))
            == 1
        )

    @classmethod
    def heartbeat(cls, pk: int, token: int, seconds: float) -> bool:
        """Extend our lease; False means another holder fenced us off (stop at once)."""
        now = timezone.now()
        return (
            cls.objects.filter(pk=pk, lease_token=token).update(
                lease_until=now + timedelta(seconds=seconds), heartbeat_at=now
            )
            == 1
        )

    @classmethod
    def heartbeat_reading(
        cls, pk: int, token: int, seconds: float, fields: tuple[str, ...], session_fields: tuple[str, ...]
    ) -> dict[str, object] | None:
        """``heartbeat`` that also reads ``fields`` of the row and ``session_fields`` of its
        session (keys ``session.<name>``; None when it has none), in one statement: a supervisor's
        beat is one round trip (on PostgreSQL; SQLite, the embedded default, cannot UPDATE in a
        WITH, and takes the heartbeat and a read). None means another holder fenced us off."""
        if connection.vendor != "postgresql":
            if not cls.heartbeat(pk, token, seconds):
                return None
            names = {name: name for name in fields}
            names |= {f"session__{name}": f"session.{name}" for name in session_fields}
            found_row = cls.objects.filter(pk=pk).values(*names).first()
            return None if found_row is None else {names[k]: v for k, v in found_row.items()}
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                _heartbeat_sql(cls, fields, session_fields),
                [now + timedelta(seconds=seconds), now, pk, token],
            )
            found = cursor.fetchone()
        if found is None:
            return None
        names = [*fields, *(f"session.{name}" for name in session_fields)]
        return dict(zip(names, found, strict=False))

    @classmethod
    def release(cls, pk: int, token: int) -> None:
        cls.objects.filter(pk=pk, lease_token=token).update(lease_until=timezone.now(), lease_owner="")


PLAIN_FIELDS = {"CharField", "BooleanField", "IntegerField", "PositiveIntegerField", "FloatField"}


@functools.cache
def _heartbeat_sql(model: type[Leased], fields: tuple[str, ...], session_fields: tuple[str, ...]) -> str:
    """UPDATE the lease under its token and read the named fields of the row and of its session
    (left-joined). Plain columns only: the values skip Django's converters."""
    quote = connection.ops.quote_name
    link = model._meta.get_field("session")
    session_model: type[models.Model] = link.related_model  # type: ignore[assignment]

    def column(of: type[models.Model], name: str) -> str:
        field = of._meta.get_field(name)
        if field.get_internal_type() not in PLAIN_FIELDS:
            raise ValueError(f"{of.__name__}.{name} is not a plain column")
        return quote(field.column)  # type: ignore[union-attr]

    row_cols = [column(model, name) for name in fields]
    read = [f"beat.{c}" for c in row_cols] + [f"s.{column(session_model, name)}" for name in session_fields]
    link_col = quote(link.column)  # type: ignore[union-attr]
    # Identifiers only, from the models' metadata, quoted; every value is a parameter.
    return (
        f"WITH beat AS (UPDATE {quote(model._meta.db_table)}"  # noqa: S608
        f" SET lease_until = %s, heartbeat_at = %s WHERE {quote(model._meta.pk.column)} = %s"  # type: ignore[union-attr]
        f" AND lease_token = %s RETURNING {', '.join([link_col, *row_cols])})"
        f" SELECT {', '.join(read) or '1'} FROM beat LEFT JOIN {quote(session_model._meta.db_table)} s"
        f" ON s.{quote(session_model._meta.pk.column)} = beat.{link_col}"  # type: ignore[union-attr]
    )


class DestinationStream(StateMachine, Leased):
    class State(models.TextChoices):
        CONNECTING = "CONNECTING", "Connecting"
        LIVE = "LIVE", "Live"
        ERROR = "ERROR", "Error"
        DISCONNECTED = "DISCONNECTED", "Disconnected"

    class Desired(models.TextChoices):
        RUN = "RUN", "Run"
        STOP = "STOP", "Stop"

    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        State.CONNECTING: {State.LIVE, State.ERROR, State.DISCONNECTED},
        State.LIVE: {State.CONNECTING, State.ERROR, State.DISCONNECTED},
        State.ERROR: {State.DISCONNECTED},
        State.DISCONNECTED: set(),
    }
    FINISHED: ClassVar[tuple[str, ...]] = (State.ERROR, State.DISCONNECTED)

    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="destinations")
    connection = models.ForeignKey(
        "platforms.PlatformConnection",
        on_delete=models.SET_NULL,
        null=True,
        related_name="destination_streams",
    )
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=16)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CONNECTING)
    desired = models.CharField(max_length=8, choices=Desired.choices, default=Desired.RUN)
    error_message = models.CharField(max_length=300, blank=True)
    viewer_count = models.PositiveIntegerField(null=True, blank=True)
    rendition = models.CharField(max_length=32, blank=True, help_text="Empty: a copy of the source.")
    target_url = EncryptedTextField(blank=True, default="")  # secret: holds the destination's key
    platform_ref = models.CharField(max_length=255, blank=True)
    live_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "connection"], name="one_stream_per_destination")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.state})"

    def apply_repeat(self, message: str) -> list[str]:
        if message and self.error_message != message[:300]:
            self.error_message = message[:300]
            return ["error_message"]
        return []

    def apply_transition(self, previous: str, state: str, message: str) -> list[str]:
        self.error_message = message[:300] if state in (self.State.ERROR, self.State.CONNECTING) else ""
        self.live_since = timezone.now() if state == self.State.LIVE else None
        return ["error_message", "live_since"]

    def event_fields(self, message: str) -> dict[str, object]:
        return {"session_id": self.session_id, "destination": self, "message": message[:500]}


class Encoder(StateMachine, Leased):
    """One transcoding FFmpeg per distinct rendition of a session, shared by its destinations."""

    class State(models.TextChoices):
        STARTING = "STARTING", "Starting"
        RUNNING = "RUNNING", "Running"
        ERROR = "ERROR", "Error"
        STOPPED = "STOPPED", "Stopped"

    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        State.STARTING: {State.RUNNING, State.ERROR, State.STOPPED},
        State.RUNNING: {State.STARTING, State.ERROR, State.STOPPED},
        State.ERROR: {State.STOPPED},
        State.STOPPED: set(),
    }
    FINISHED: ClassVar[tuple[str, ...]] = (State.ERROR, State.STOPPED)

    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="encoders")
    rendition = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTING)
    desired = models.CharField(max_length=8, default="RUN")
    source_fps = models.FloatField(null=True, blank=True)
    error_message = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "rendition"], name="one_encoder_per_rendition")
        ]

    def __str__(self) -> str:
        return f"encoder {self.rendition} of session {self.session_id}"

    def apply_transition(self, previous: str, state: str, message: str) -> list[str]:
        self.error_message = message[:300]
        return ["error_message"]

    def event_fields(self, message: str) -> dict[str, object]:
        return {"session_id": self.session_id, "message": f"{self}: {message}"[:500]}


class StreamEvent(models.Model):
    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="events")
    destination = models.ForeignKey(
        DestinationStream, on_delete=models.CASCADE, null=True, related_name="events"
    )
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_state} -> {self.to_state}"
