"""The engine's workloads (``streaming.supervision.Workload``): a destination's relay, an encoder.

A workload is one leased row seen by its supervisor: it reads the row, says whether its process
can start, builds the process, and writes what happened, every write under the row's lease
(``streaming.leases.LeaseRunner``). ``LeasedWorkload`` is the public base other apps build on
(the recorder, ``recordings.recorder``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings

from core.quality import preset_named
from platforms.models import PlatformConnection
from platforms.targets import PlatformError, prepare_target
from streaming import actions
from streaming.ffmpeg import build_transcode_command
from streaming.leases import LeaseRunner
from streaming.models import DestinationStream, Encoder, Leased, StreamSession
from streaming.processes import Child
from streaming.relay import RelayError, RelayJob
from streaming.renditions import rendition_stream_name
from streaming.supervision import INPUT_CATEGORIES, OVER_CEILING, Unusable


def local_url(app: str, name: str, reader: str = "") -> str:
    """This node's ingest URL for ``name``; ``reader`` tags the play for on_play (``d<pk>``, ``e<pk>``)."""
    url = f"rtmp://{settings.RTMP_LOCAL_HOST}:{settings.RTMP_PORT}/{app}/{name}"
    return f"{url}?reader={reader}" if reader else url


def creator_message(category: str, label: str, kind: str) -> str:
    """What went wrong, in words a creator can act on; never a URL or a key."""
    platform = dict(PlatformConnection.Kind.choices).get(kind, "the destination")
    if category == "output_rejected":
        if kind == PlatformConnection.Kind.CUSTOM:
            return f"{label} refused the stream key — check the server and key of this destination"
        return f"{platform} refused the stream key — reconnect {platform}"
    if category == "output_refused":
        return f"Could not reach {label}'s server"
    if category == "output_broken":
        return f"{label} closed the connection"
    if category in INPUT_CATEGORIES:
        return "Your stream stopped reaching Prism"
    if category == OVER_CEILING:
        return f"Your stream is above the quality your plan allows for {label}"
    if category == "stalled":
        return f"The stream to {label} stopped moving"
    return f"Streaming to {label} failed"


class LeasedWorkload:
    """A workload whose row is ``model`` (a ``Leased`` row with a ``session``), held by ``lease``."""

    model: ClassVar[type[Leased]]
    tick_every: float | None = None
    # What each heartbeat reads back (``LeaseRunner.reads``): all a running process's loop decides
    # on between heartbeats (``should_stop``, ``publisher_gone``, a re-plan of ``input``); the
    # rest of the row only changes under our own writes and is read by ``refresh``.
    beat_fields: ClassVar[tuple[str, ...]] = ("desired", "state")
    beat_session_fields: ClassVar[tuple[str, ...]] = ("desired", "publisher_connected", "source_checked")

    def __init__(self, pk: int, lease: LeaseRunner) -> None:
        self.pk, self.lease = pk, lease
        self.name = f"{self.model.__name__} {pk}"
        self.row: Any = None
        self.refresh()

    def refresh(self) -> None:
        self.row = self.model.objects.select_related("session").get(pk=self.pk)

    def renewed(self) -> None:
        read = self.lease.read
        session = self.row.session
        if not read or session is None or any(read[f"session.{n}"] is None for n in self.beat_session_fields):
            self.refresh()  # a lease that reads nothing back, or the session is gone: read it all
            return
        for name in self.beat_fields:
            setattr(self.row, name, read[name])
        for name in self.beat_session_fields:
            setattr(session, name, read[f"session.{name}"])

    @property
    def session(self) -> StreamSession:
        return self.row.session  # type: ignore[no-any-return]

    def should_stop(self) -> bool:
        return (
            self.row.desired != "RUN"
            or self.session.desired != StreamSession.Desired.LIVE
            or self.row.state in self.row.FINISHED
        )

    def reads_rendition(self) -> bool:
        """True when the process reads an encoder's rendition (``encoder()``), not the source."""
        return False

    def encoder(self) -> Encoder | None:
        return None

    def encoder_ready(self, encoder: Encoder | None) -> bool:
        return encoder is not None and encoder.state == Encoder.State.RUNNING

    def ready(self) -> bool:
        if not self.session.publisher_connected:
            return False
        return not self.reads_rendition() or self.encoder_ready(self.encoder())

    def blocked(self) -> str | None:
        return None

    def input(self) -> str:
        raise NotImplementedError

    def publisher_gone(self) -> bool:
        return not self.session.publisher_connected

    def input_missing(self) -> bool:
        if not self.session.publisher_connected:
            return True
        if not self.reads_rendition():
            return False
        encoder = self.encoder()
        return encoder is None or encoder.state != Encoder.State.RUNNING

    def source_unchecked(self) -> bool:
        return not self.session.source_checked

    def prepare(self) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def spawn(self) -> Child:
        raise NotImplementedError

    def record_pid(self, pid: int) -> None:
        self.lease.update(process_id=pid)

    def record_attempts(self, attempts: int) -> None:
        self.lease.update(attempts=attempts)

    def went_live(self) -> None:
        pass

    def retrying(self, category: str, message: str) -> None:
        pass

    def failed(self, category: str, message: str) -> None:
        pass

    def stopped(self) -> None:
        pass


class RelayWorkload(LeasedWorkload):
    """A destination's relay: its platform target prepared once, then ``ffmpeg -c copy`` (or the
    relay of a rendition) pushing to it."""

    model = DestinationStream
    beat_fields = (*LeasedWorkload.beat_fields, "rendition")  # check_source re-plans a copy

    def reads_rendition(self) -> bool:
        return bool(self.row.rendition)

    def encoder(self) -> Encoder | None:
        dest = self.row
        return Encoder.objects.filter(session_id=dest.session_id, rendition=dest.rendition).first()

    def blocked(self) -> str | None:
        if not self.reads_rendition():
            return None
        encoder = self.encoder()
        if encoder is not None and encoder.state == Encoder.State.ERROR:
            return f"Prism could not prepare the {self.row.rendition} version of your stream"
        return None

    def encoder_ready(self, encoder: Encoder | None) -> bool:
        # At its first start the relay connects before the encoder publishes (idle_streams),
        # so it gets the rendition's first keyframe; after a failure it waits for RUNNING.
        return (
            encoder is not None
            and encoder.desired == "RUN"
            and (encoder.state == Encoder.State.RUNNING or encoder.attempts == 0)
        )

    def input(self) -> str:
        dest = self.row
        if dest.rendition:
            name = rendition_stream_name(self.session.stream_name, dest.rendition)
            return local_url("rendition", name, f"d{dest.pk}")
        return local_url("live", self.session.stream_name, f"d{dest.pk}")

    def prepare(self) -> None:
        """The platform's per-stream object (a YouTube broadcast, a Facebook live video), once:
        the supervisor runs this with its lease kept alive, however long the platform takes."""
        dest = self.row
        if dest.target_url:
            return
        connection = dest.connection
        if connection is None:
            raise Unusable(f"{dest.label} was removed")
        try:
            target = prepare_target(connection, title=self.session.title)
        except PlatformError as exc:
            raise Unusable(exc.message) from None
        self.lease.update(target_url=target.url, platform_ref=target.platform_ref)
        dest.target_url, dest.platform_ref = target.url, target.platform_ref

    def spawn(self) -> Child:
        dest = self.row
        max_video: tuple[float, float, float] | None = None
        if not dest.rendition:
            # A copy was planned on the source we expected; until check_source has probed the
            # real one, the relay's gate refuses a source above the session's ceiling.
            cap = preset_named(self.session.quality_ceiling)
            max_video = (cap.width, cap.height, cap.fps)
        try:
            job = RelayJob(self.input(), dest.target_url, max_video=max_video)
        except RelayError:
            # The message would say what is wrong with the address; the address holds the key.
            raise Unusable(f"The server address of {dest.label} is not usable — edit it") from None
        return Child.relay(job, owner=self.lease.owner)

    def went_live(self) -> None:
        self.lease.transition(self.row, DestinationStream.State.LIVE)
        actions.session_went_live(self.row.session_id)

    def retrying(self, category: str, message: str) -> None:
        dest = self.row
        self.lease.transition(
            dest, DestinationStream.State.CONNECTING, creator_message(category, dest.label, dest.kind)
        )

    def failed(self, category: str, message: str) -> None:
        dest = self.row
        text = (
            message
            if category == "internal" and message
            else creator_message(category, dest.label, dest.kind)
        )
        if self.lease.transition(dest, DestinationStream.State.ERROR, text):
            actions.fail_session_if_no_destination_left(dest.session_id)
            self.finish_platform_stream()

    def stopped(self) -> None:
        self.refresh()
        if self.row.state not in DestinationStream.FINISHED and self.lease.transition(
            self.row, DestinationStream.State.DISCONNECTED, "Stream ended."
        ):
            self.finish_platform_stream()

    def finish_platform_stream(self) -> None:
        """Once the destination is over for good (DISCONNECTED or ERROR, written under our lease):
        ``actions.end_platform_stream``, with the lease kept alive during the platform's call."""
        if self.row.platform_ref:
            with self.lease.keep_alive():
                actions.end_platform_stream(self.row)


class EncoderWorkload(LeasedWorkload):
    """One rendition of a session: a transcoding FFmpeg publishing into the ``rendition`` app."""

    model = Encoder

    def input(self) -> str:
        return local_url("live", self.session.stream_name, f"e{self.pk}")

    def spawn(self) -> Child:
        enc = self.row
        preset, _, branded = enc.rendition.partition("-")
        argv = build_transcode_command(
            self.input(),
            local_url("rendition", rendition_stream_name(self.session.stream_name, enc.rendition)),
            preset_named(preset),
            source_fps=enc.source_fps,
            branding=branded == "branded",
            threads=1,
        )
        return Child(argv, owner=self.lease.owner)

    def went_live(self) -> None:
        self.lease.transition(self.row, Encoder.State.RUNNING)

    def retrying(self, category: str, message: str) -> None:
        self.lease.transition(self.row, Encoder.State.STARTING, message)

    def failed(self, category: str, message: str) -> None:
        self.lease.transition(self.row, Encoder.State.ERROR, message)

    def stopped(self) -> None:
        self.refresh()
        if self.row.state not in Encoder.FINISHED:
            self.lease.transition(self.row, Encoder.State.STOPPED)
