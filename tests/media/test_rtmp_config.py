"""streaming.rtmp_config: the rendered nginx.conf, checked by nginx itself and by a real ingest."""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from streaming.renditions import SourceInfo, probe_source, wait_until_live
from streaming.rtmp_config import (
    RtmpConfig,
    callback_url,
    drop_url,
    nginx_command,
    prepare_runtime_dir,
    render_nginx_rtmp_config,
)
from tests.rtmp_stack import (
    Answer,
    CallbackServer,
    IngestServer,
    Publisher,
    RelayProcess,
    SinkServer,
    free_port,
    wait_until,
)

KEY = "live_4f2a9c0e1b7d4e55b2c3"  # the creator's secret ingest key
RENAMED = "s-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def render(tmp_path: Path, **extra: object) -> str:
    return render_nginx_rtmp_config(
        RtmpConfig(rtmp_port=1935, callback_base="http://127.0.0.1:8000/", runtime_dir=tmp_path, **extra)
    )


def test_the_live_app_calls_the_web_and_only_loopback_may_play(tmp_path: Path) -> None:
    conf = render(tmp_path, node_name="media-2")
    live = conf[conf.index("application live {") : conf.index("}", conf.index("application live {"))]
    assert live.splitlines()[1:] == [
        "            live on;",
        "            record off;",
        "            idle_streams on;",
        "            on_publish http://127.0.0.1:8000/rtmp/on_publish/?node=media-2;",
        "            on_play http://127.0.0.1:8000/rtmp/on_play/?node=media-2;",
        "            on_publish_done http://127.0.0.1:8000/rtmp/on_publish_done/?node=media-2;",
        "            on_update http://127.0.0.1:8000/rtmp/on_update/?node=media-2;",
        "            notify_method post;",
        "            notify_update_timeout 30s;",
        "            drop_idle_publisher 10s;",
        "            allow publish all;",
        "            allow play 127.0.0.1;",
        "            deny play all;",
        "        ",
    ]


def test_everything_nginx_writes_stays_in_the_runtime_dir(tmp_path: Path) -> None:
    conf = render(tmp_path, hls_http_port=8081)
    assert "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf
    assert f"error_log {tmp_path}/logs/error.log warn;" in conf
    assert "    access_log off;" in conf  # the rtmp access log would record the ingest key
    assert "daemon off;" in conf
    assert "worker_processes 1;" in conf
    assert f"hls_path {tmp_path}/hls;" in conf
    assert "/var/" not in conf
    assert "/etc/" not in conf
    assert "listen 127.0.0.1:8081;" in conf
    assert "add_header Access-Control-Allow-Origin * always;" in conf


def test_the_http_block_and_sink_are_optional(tmp_path: Path) -> None:
    conf = render(tmp_path, include_sink=False)
    assert "http {" not in conf
    assert "application sink" not in conf
    assert "application rendition {" in conf


@pytest.mark.parametrize("bad", ["http://x/a b", "http://x/;", "http://x/{"])
def test_it_refuses_a_callback_url_nginx_would_misread(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="callback"):
        render_nginx_rtmp_config(RtmpConfig(rtmp_port=1, callback_base=bad, runtime_dir=tmp_path))


def test_it_refuses_a_strange_node_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="node name"):
        render(tmp_path, node_name="a;b")


def test_callback_urls() -> None:
    assert callback_url("http://web:8000/", "on_update", "n1") == "http://web:8000/rtmp/on_update/?node=n1"


@pytest.mark.parametrize(("hls", "control"), [(None, None), (18081, None), (None, 18936), (18081, 18936)])
def test_nginx_accepts_the_rendered_config(tmp_path: Path, hls: int | None, control: int | None) -> None:
    prepare_runtime_dir(tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(tmp_path, hls_http_port=hls, control_port=control, user="root"))
    result = subprocess.run(
        nginx_command(conf, tmp_path, test=True), capture_output=True, text=True, timeout=20, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_control_module_listens_on_loopback_only_whatever_the_rtmp_listen_host(tmp_path: Path) -> None:
    text = render(tmp_path, control_port=18936, listen_host="0.0.0.0")  # noqa: S104 - the point of the test
    control = text[text.index("listen 127.0.0.1:18936;") :]
    assert "rtmp_control all;" in control
    assert control.index("allow 127.0.0.1;") < control.index("deny all;")
    assert "rtmp_control" not in render(tmp_path)


def test_the_control_module_drops_a_renamed_publisher_and_its_readers() -> None:
    def decide(path: str, form: dict[str, str]) -> Answer:
        return Answer(302, RENAMED) if form.get("call") == "publish" else Answer(200)

    with (
        CallbackServer(decide) as web,
        IngestServer(web.base_url) as ingest,
        SinkServer() as sink,
        _publisher(ingest.url(KEY)) as publisher,
    ):
        _published(web)
        reader = RelayProcess({"input": ingest.url(RENAMED), "output": sink.url("dest")})
        with reader:
            assert wait_until(lambda: reader.frames > 0, 20)
            for who in ("publisher", "subscriber"):
                with urllib.request.urlopen(
                    drop_url(ingest.control_port, who, "live", RENAMED), timeout=5
                ) as r:
                    assert r.read() == b"1"  # one of each, found under the renamed (session) name
            assert wait_until(lambda: not publisher.running(), 10)
            assert reader.wait(timeout=10) is not None


def _publisher(url: str) -> Publisher:
    return Publisher(url, width=320, height=180, keyframe_seconds=1)


def _published(web: CallbackServer) -> None:
    """Wait until nginx has asked the web about the publish (probes then wait for it to be live)."""
    assert wait_until(lambda: web.calls_to("publish"), 10)


def test_a_2xx_callback_accepts_the_publish_with_nginx_s_fields() -> None:
    with (
        CallbackServer(lambda path, form: Answer(204)) as web,
        IngestServer(web.base_url, node_name="n7") as ingest,
        _publisher(ingest.url(KEY)),
    ):
        _published(web)
        info = wait_until_live(ingest.url(KEY), timeout=10)
    assert info == SourceInfo(320, 180, 30.0, "h264", "aac")
    call = web.calls_to("publish")[0]
    assert call.path == "/rtmp/on_publish/"
    assert call.query == {"node": "n7"}
    assert {"addr", "app", "call", "clientid", "flashver", "name", "tcurl", "type"} <= set(call.form)
    assert (call.form["app"], call.form["name"], call.form["addr"]) == ("live", KEY, "127.0.0.1")


def test_a_403_callback_refuses_the_publish() -> None:
    with CallbackServer(lambda path, form: Answer(403)) as web, IngestServer(web.base_url) as ingest:
        publisher = _publisher(ingest.url(KEY))
        with publisher:
            assert publisher.proc is not None
            code = publisher.proc.wait(timeout=10)
        assert code != 0
        assert probe_source(ingest.url(KEY), timeout=3) is None
        assert [c.status for c in web.calls_to("publish")] == [403]


def test_a_3xx_callback_renames_the_stream_so_the_key_is_never_needed_again() -> None:
    def web_says(path: str, form: dict[str, str]) -> Answer:
        return Answer(302, RENAMED) if form.get("call") == "publish" else Answer(200)

    with CallbackServer(web_says) as web, IngestServer(web.base_url) as ingest:
        with _publisher(ingest.url(KEY)) as publisher:
            _published(web)
            live = wait_until_live(ingest.url(RENAMED), timeout=10)
            assert live == SourceInfo(320, 180, 30.0, "h264", "aac")
            # Under its key the stream does not exist: only the opaque name reads it.
            assert probe_source(ingest.url(KEY), timeout=3) is None
            assert publisher.running()
        assert wait_until(lambda: web.calls_to("publish_done"), 5)
        log = ingest.error_log()
    # nginx-rtmp keeps the name it was called with for its later callbacks: publish_done
    # (and update) carry the original key, in the POST body only, never in a URL.
    assert web.calls_to("publish_done")[0].form["name"] == KEY
    assert KEY not in log


def test_a_reader_connected_before_the_publish_gets_its_first_keyframe_and_is_announced() -> None:
    """idle_streams on + on_play: what lets the web hold on_publish until the relays are there.

    The publisher sends one keyframe every 10 s: a relay joining after the publish would wait
    up to 10 s for the next one, a relay already connected gets the very first frame.
    """

    def web_says(path: str, form: dict[str, str]) -> Answer:
        return Answer(302, RENAMED) if form.get("call") == "publish" else Answer(200)

    with CallbackServer(web_says) as web, IngestServer(web.base_url) as ingest, SinkServer() as sink:
        early = RelayProcess({"input": ingest.url(RENAMED) + "?reader=d42", "output": sink.url("dest")})
        with early:
            assert wait_until(lambda: web.calls_to("play"), 10)
            play = web.calls_to("play")[0]
            assert play.path == "/rtmp/on_play/"
            assert (play.form["name"], play.form["reader"], play.form["app"]) == (RENAMED, "d42", "live")
            with Publisher(ingest.url(KEY), width=320, height=180, keyframe_seconds=10) as publisher:
                assert wait_until(lambda: sink.first_video_tag("dest", keyframe=True), 5)
                assert time.monotonic() - publisher.started_at < 5
            # The publisher left: nginx keeps the reader (idle_streams), the relay's read timeout
            # or its supervisor ends it.
            assert early.proc is not None
            assert early.proc.poll() is None


def test_a_reader_connected_before_an_encoder_publishes_its_rendition_gets_the_first_keyframe() -> None:
    """The rendition app keeps waiting readers too, so a FREE destination's relay, started beside its
    encoder, gets the encoder's very first keyframe instead of the next one (here 10 s later).
    It announces its readers and asks before an encoder publishes, as the live app does."""
    name = f"{RENAMED}-360p-branded"
    with CallbackServer() as web, IngestServer(web.base_url) as ingest, SinkServer() as sink:
        early = RelayProcess(
            {"input": ingest.url(name, app="rendition") + "?reader=d7", "output": sink.url("dest")}
        )
        with early:
            assert wait_until(lambda: web.calls_to("play"), 10)  # connected and waiting, nothing published
            play = web.calls_to("play")[0]
            assert play.path == "/rtmp/rendition/on_play/"
            assert (play.form["name"], play.form["reader"], play.form["app"]) == (name, "d7", "rendition")
            assert early.proc is not None
            assert early.proc.poll() is None
            with Publisher(
                ingest.url(name, app="rendition"), width=320, height=180, keyframe_seconds=10
            ) as encoder:
                assert wait_until(lambda: sink.first_video_tag("dest", keyframe=True), 5)
                assert time.monotonic() - encoder.started_at < 5
            publish = web.calls_to("publish")[0]
            assert (publish.path, publish.form["name"]) == ("/rtmp/rendition/on_publish/", name)


def test_an_encoder_refused_by_the_web_cannot_publish_a_rendition() -> None:
    name = f"{RENAMED}-720p"

    def web_says(path: str, form: dict[str, str]) -> Answer:
        return Answer(403) if form.get("call") == "publish" else Answer(200)

    with CallbackServer(web_says) as web, IngestServer(web.base_url) as ingest:
        encoder = Publisher(ingest.url(name, app="rendition"), width=320, height=180)
        with encoder:
            assert wait_until(lambda: not encoder.running(), 10)
        assert [c.path for c in web.calls_to("publish")] == ["/rtmp/rendition/on_publish/"]


def test_the_sink_app_writes_hls_served_with_cors() -> None:
    port = free_port()
    with CallbackServer() as web, IngestServer(web.base_url, hls_http_port=port) as ingest:
        with _publisher(ingest.url("preview", app="sink")):
            playlist = ingest.workdir / "hls" / "preview.m3u8"  # type: ignore[operator]
            assert wait_until(playlist.exists, 10)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hls/preview.m3u8", timeout=5) as resp:
                assert resp.headers["Access-Control-Allow-Origin"] == "*"
                assert b"#EXTM3U" in resp.read()
        # The sink app never calls the web: it is a local test destination.
        assert web.calls == []


def test_sink_server_records_what_it_receives() -> None:
    with SinkServer() as sink, _publisher(sink.url("k1")):
        assert wait_until(lambda: sink.first_video_tag("k1", keyframe=True), 10)
        assert wait_until(lambda: sink.decoded_frames("k1") > 10, 10)


def worker_uids(master_pid: int) -> set[int]:
    """Real uids of nginx's worker processes (the master's children)."""
    uids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["PPid"]) == master_pid:
                uids.add(int(fields["Uid"].split()[0]))
    return uids


@pytest.mark.skipif(os.geteuid() != 0, reason="nginx drops its worker's privileges only when started as root")
def test_started_as_root_the_worker_runs_unprivileged_and_still_writes_hls() -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    with (
        CallbackServer(lambda path, form: Answer(204)) as web,
        IngestServer(web.base_url, worker_user="nobody") as ingest,
        _publisher(ingest.url("preview", app="sink")),
    ):
        assert ingest.proc is not None
        assert wait_until(lambda: worker_uids(ingest.proc.pid) == {nobody}, 10)  # type: ignore[union-attr]
        assert ingest.workdir is not None
        hls = ingest.workdir / "hls"
        assert wait_until(lambda: any(hls.glob("preview*.ts")), 15), ingest.error_log()
