"""End to end on loopback: publisher -> nginx ingest (3xx rename) -> relays / rendition -> sinks.

The relays are bare FFmpeg started as the supervisor starts them (``Child.relay``): the stream
key reaches FFmpeg only through its ``-fpre`` pipe, after the input passed the gate.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.quality import preset_named
from streaming.ffmpeg import build_transcode_command
from streaming.relay import RelayError, RelayJob
from streaming.renditions import Rendition, wait_until_live
from tests.rtmp_stack import (
    Answer,
    CallbackServer,
    IngestServer,
    Publisher,
    RelayProcess,
    SinkServer,
    TlsFront,
    closed_port_url,
    probe_file,
    stop_process,
    wait_until,
)

INGEST_KEY = "live_7c1d0e9a55b24f0e8d31"
DEST_KEY = "dest-SECRET-9f8e7d6c5b4a"


def renamed(key: str) -> str:
    """What the web answers in Location: an opaque name derived from the session, not the key."""
    return "s-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass
class Stack:
    web: CallbackServer
    ingest: IngestServer

    @property
    def live(self) -> str:
        return self.ingest.url(renamed(INGEST_KEY))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    def web_says(path: str, form: dict[str, str]) -> Answer:
        # Like the web: a publish to `live` is renamed; an encoder's to `rendition` is accepted.
        if form.get("call") == "publish" and form.get("app") == "live":
            return Answer(302, renamed(form["name"]))
        return Answer(200)

    # One long-running creator for the module; keyframes every second keep relays' start short.
    with (
        CallbackServer(web_says) as web,
        IngestServer(web.base_url) as ingest,
        Publisher(ingest.url(INGEST_KEY), width=320, height=180, keyframe_seconds=1),
    ):
        assert wait_until(lambda: web.calls_to("publish"), 10)
        assert wait_until_live(ingest.url(renamed(INGEST_KEY)), timeout=15) is not None
        yield Stack(web, ingest)


def relay(input_url: str, output_url: str, **extra: object) -> RelayProcess:
    return RelayProcess({"input": input_url, "output": output_url, **extra})


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_three_relays_deliver_a_decodable_stream_to_three_sinks(stack: Stack) -> None:
    with SinkServer() as yt, SinkServer() as twitch, SinkServer() as custom:
        sinks = [yt, twitch, custom]
        relays = [relay(stack.live, sink.url(f"{DEST_KEY}-{i}")) for i, sink in enumerate(sinks)]
        try:
            for r in relays:
                r.start()
            for i, sink in enumerate(sinks):
                assert wait_until(lambda s=sink, k=f"{DEST_KEY}-{i}": s.first_video_tag(k, keyframe=True), 10)
            for r in relays:
                # The key went through the relay's pipe: nothing in the world-readable argv.
                assert DEST_KEY not in cmdline(r.pid())
                assert INGEST_KEY not in cmdline(r.pid())
                assert "-fpre" in cmdline(r.pid())
            assert wait_until(lambda: all(r.frames >= 45 for r in relays), 10)
        finally:
            codes = [r.stop(signal.SIGINT) for r in relays]
        # FFmpeg's exit after a stop signal, having written the trailer ("Exiting normally").
        assert codes == [255, 255, 255], [r.stderr for r in relays]
        for i, sink in enumerate(sinks):
            key = f"{DEST_KEY}-{i}"
            assert sink.decoded_frames(key) >= 45
            streams = probe_file(sink.recording(key))["streams"]
            assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
        for r in relays:
            assert r.progress[-1].ended
            assert r.progress[-1].speed is not None
            assert r.progress[-1].speed > 0.8
            assert DEST_KEY not in r.stderr


def test_an_rtmps_destination_with_a_facebook_style_key_gets_the_stream(stack: Stack) -> None:
    """Facebook takes RTMPS only, and its keys carry a query string: both reach the platform."""
    with CallbackServer() as platform, SinkServer(platform.base_url) as sink, TlsFront(sink.port) as tls:
        with relay(stack.live, tls.url(f"{DEST_KEY}?s_bl=1&s_sc=9")) as r:
            assert wait_until(lambda: sink.first_video_tag(DEST_KEY, keyframe=True), 10)
            assert wait_until(lambda: r.frames >= 30, 10)
            assert DEST_KEY not in cmdline(r.pid())
        assert tls.handshakes == 1
        publish = platform.calls_to("publish")[0]
        assert (publish.form["name"], publish.form["app"]) == (DEST_KEY, "app")
        assert (publish.form.get("s_bl"), publish.form.get("s_sc")) == ("1", "9")
        assert sink.decoded_frames(DEST_KEY) >= 30
        assert DEST_KEY not in r.stderr


def test_two_destinations_share_one_branded_rendition(stack: Stack) -> None:
    rendition = Rendition("360p", branded=True)
    rendition_url = stack.ingest.url(rendition.stream_name(renamed(INGEST_KEY)), app="rendition")
    argv = build_transcode_command(
        stack.live, rendition_url, preset_named("360p"), source_fps=30, branding=True
    )
    encoder = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        with SinkServer() as a, SinkServer() as b:
            assert wait_until_live(rendition_url, timeout=15) is not None
            relays = [relay(rendition_url, a.url(DEST_KEY)), relay(rendition_url, b.url(DEST_KEY))]
            try:
                for r in relays:
                    r.start()
                assert wait_until(lambda: all(r.frames >= 30 for r in relays), 15)
            finally:
                codes = [r.stop() for r in relays]
            assert codes == [255, 255], [r.stderr for r in relays]
            for sink in (a, b):
                video = next(
                    s for s in probe_file(sink.recording(DEST_KEY))["streams"] if s["codec_type"] == "video"
                )
                # Re-encoded by our x264 (High profile; the publisher sends Constrained Baseline),
                # and the 320x180 source was not upscaled to 640x360.
                assert (video["profile"], video["width"], video["height"]) == ("High", 320, 180)
                assert sink.decoded_frames(DEST_KEY) >= 30
    finally:
        stop_process(encoder, signal.SIGINT)
        assert encoder.stderr is not None
        encoder.stderr.close()


def test_a_sink_that_refuses_the_key_is_output_rejected_and_the_key_never_printed(stack: Stack) -> None:
    with CallbackServer(lambda path, form: Answer(403)) as platform, SinkServer(platform.base_url) as sink:
        r = relay(stack.live, sink.url(DEST_KEY))
        with r:
            code = r.wait(20)
    assert code == 1
    category, message = r.failure()
    assert (category, message.split(" (")[0]) == ("output_rejected", "the destination refused the publish")
    assert DEST_KEY not in r.stderr + message
    assert platform.calls_to("publish")[0].form["name"] == DEST_KEY  # it did reach the platform


def test_a_sink_that_hangs_up_right_after_the_publish_is_output_rejected(stack: Stack) -> None:
    def platform_says(path: str, form: dict[str, str]) -> Answer:
        return Answer(403) if form.get("call") == "update_publish" else Answer(200)

    with (
        CallbackServer(platform_says) as platform,
        SinkServer(platform.base_url, update_every="1s") as sink,
        relay(stack.live, sink.url(DEST_KEY)) as r,
    ):
        assert r.wait(20) == 1
    category, message = r.failure()
    assert category == "output_rejected"
    assert message.startswith("the destination closed the connection "), message
    assert DEST_KEY not in r.stderr + message


def test_a_closed_port_is_output_refused(stack: Stack) -> None:
    url = closed_port_url(DEST_KEY)
    with relay(stack.live, url) as r:
        assert r.wait(20) == 1
    category, message = r.failure()
    assert category == "output_refused"
    assert message.startswith("could not connect to the destination (")
    assert DEST_KEY not in r.stderr + message


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_relay_cleanly(stack: Stack, sig: signal.Signals) -> None:
    with SinkServer() as sink, relay(stack.live, sink.url(DEST_KEY)) as r:
        assert wait_until(lambda: r.frames >= 15, 10)
        assert r.stop(sig) == 255
    assert f"Exiting normally, received signal {int(sig)}." in r.stderr
    assert r.progress[-1].ended
    assert r.progress[-1].frame is not None
    assert r.progress[-1].frame >= 15


def test_a_sink_that_vanishes_breaks_only_its_own_relay(stack: Stack) -> None:
    with SinkServer() as steady, SinkServer() as vanishing:
        keep = relay(stack.live, steady.url(DEST_KEY))
        # reject_window 0: however early the sink vanishes, this is a broken stream, not a refusal.
        lose = relay(stack.live, vanishing.url(DEST_KEY), reject_window=0)
        with keep, lose:
            assert wait_until(lambda: keep.frames >= 15 and lose.frames >= 15, 10)
            vanishing.stop()
            assert lose.wait(15) == 1
            frames_then = keep.frames
            assert wait_until(lambda: keep.frames >= frames_then + 30, 5)
            assert keep.proc is not None
            assert keep.proc.poll() is None
            assert keep.stop() == 255
        category, message = lose.failure()
        assert category == "output_broken"
        assert message.startswith("writing to the destination failed (")
        assert DEST_KEY not in lose.stderr + message


def test_a_source_above_the_ceiling_is_refused_before_the_destination_is_contacted(stack: Stack) -> None:
    # The module's publisher sends 320x180 at 30 fps.
    with CallbackServer() as platform, SinkServer(platform.base_url) as sink:
        with relay(stack.live, sink.url(DEST_KEY), max_video=[256, 144, 30]) as r:
            r.wait(15)
        assert r.failure() == ("input_over_ceiling", "the source is 320x180, above 256x144")
        with relay(stack.live, sink.url(DEST_KEY), max_video=[320, 180, 15]) as r:
            r.wait(15)
        assert r.failure() == ("input_over_ceiling", "the source runs at 30 fps, above 15")
        # The gate kept the key: FFmpeg never opened its output, the platform saw no publish.
        assert "Output #0" not in r.stderr
        assert not platform.calls_to("publish")
        # Portrait or landscape, a source within the box is relayed.
        with relay(stack.live, sink.url(DEST_KEY), max_video=[180, 320, 30]) as r:
            assert wait_until(lambda: sink.first_video_tag(DEST_KEY, keyframe=True), 10)
        assert [c.form["name"] for c in platform.calls_to("publish")] == [DEST_KEY]


def test_the_publisher_leaving_is_input_ended(stack: Stack) -> None:
    key = "live_short_lived_key_123"
    with SinkServer() as sink, Publisher(stack.ingest.url(key), keyframe_seconds=1) as publisher:
        assert wait_until(lambda: any(c.form.get("name") == key for c in stack.web.calls_to("publish")), 10)
        assert wait_until_live(stack.ingest.url(renamed(key)), timeout=15) is not None
        # idle_streams on: nginx keeps a reader waiting for a publisher that left, so the
        # relay's read timeout ends it (the supervisor stops it sooner, on on_publish_done).
        with relay(stack.ingest.url(renamed(key)), sink.url(DEST_KEY), read_timeout=2) as r:
            assert wait_until(lambda: r.frames >= 10, 10)
            publisher.stop()
            r.wait(15)
    assert r.failure()[0] == "input_ended"


def test_a_stream_that_is_not_live_is_input_unavailable(stack: Stack) -> None:
    with relay(stack.ingest.url("s-nobody-publishes-this"), closed_port_url(DEST_KEY), read_timeout=2) as r:
        assert r.wait(15) == 1
    category, message = r.failure()
    assert category == "input_unavailable"
    assert message.startswith("cannot open the input (")


@pytest.mark.parametrize(
    "fields",
    [
        {"input": "not a url", "output": f"rtmp://x/app/{DEST_KEY}"},
        {"input": "rtmp://a/b/c", "output": f"relative/{DEST_KEY}.flv"},
        {"input": "rtmp://a/b/c", "output": f"http://x/app/{DEST_KEY}"},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/{DEST_KEY}"},  # no application
        {"input": "rtmp://a/b/c", "output": f"rtmp://user:{DEST_KEY}@x/app/key"},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}" + "x" * 1000},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "read_timeout": -1},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "read_timeout": True},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "max_video": [1280, 720]},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "max_video": [1280, 0, 30]},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "max_video": "720p"},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "probe": {"-i": 1}},
        {"input": "rtmp://a/b/c", "output": f"rtmp://x/app/{DEST_KEY}", "format": "flv -y"},
    ],
)
def test_a_bad_job_is_refused_without_quoting_the_destination(fields: dict[str, object]) -> None:
    with pytest.raises(RelayError) as refused:
        RelayJob(**fields)  # type: ignore[arg-type]
    assert DEST_KEY not in str(refused.value)


def test_the_argv_holds_the_server_and_the_pipe_never_the_key() -> None:
    job = RelayJob(
        "rtmp://127.0.0.1:1935/live/s-abc?reader=d7",
        "rtmps://live-api-s.facebook.com:443/rtmp/FB-123-SECRET?s_bl=1&s_sc=9",
    )
    argv = job.command(key_fd=9)
    assert not any("SECRET" in arg for arg in argv)
    assert argv[argv.index("-fpre") + 1] == "/dev/fd/9"
    assert argv[-3:] == ["-f", "flv", "rtmps://live-api-s.facebook.com:443/rtmp"]
    assert argv.index("-fpre") > argv.index("-i")  # an output option: read after the input is probed
    destination = job.destination
    assert destination is not None
    assert destination.preset() == "rtmp_app=rtmp\nrtmp_playpath=FB-123-SECRET?s_bl=1&s_sc=9\n"
    with pytest.raises(RelayError):
        job.command(key_fd=None)
    # A recorder's file output needs no pipe and never overwrites a part.
    recording = RelayJob("rtmp://127.0.0.1:1935/live/s-abc", "/tmp/rec/0001.flv").command(key_fd=None)
    assert "-fpre" not in recording
    assert recording[-4:] == ["no_duration_filesize", "-f", "flv", "/tmp/rec/0001.flv"]
    assert "-n" in recording


def test_a_supervised_process_gets_none_of_the_workers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming.processes import Child

    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "worker-secret-encryption-key")
    monkeypatch.setenv("DATABASE_URL", "postgres://prism:db-password@127.0.0.1/prism")
    child = Child(["sleep", "30"], owner="t-env-check")
    try:
        # Past setpriv's exec: the process is sleep itself.
        assert wait_until(lambda: cmdline(child.pid).startswith("sleep"), 5)
        environ = Path(f"/proc/{child.pid}/environ").read_bytes()
    finally:
        child.kill()
    assert b"worker-secret" not in environ
    assert b"db-password" not in environ
    assert b"PRISM_SUPERVISED_BY=t-env-check" in environ
    assert b"PATH=" in environ
