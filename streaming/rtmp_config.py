"""Render the nginx.conf of one media node's RTMP ingest (nginx + libnginx-mod-rtmp 1.2.2).

Pure: takes plain values, returns the text; ``manage.py rtmp_config`` writes it and the
tests start a real nginx with it. Three RTMP applications:

``live``
    Where OBS (or the WebRTC peer) publishes ``rtmp://host:PORT/live/<ingest key>``.
    nginx asks ``<callback base>/rtmp/on_publish/`` first; the web answers 2xx (accept),
    403 (refuse) or 3xx with ``Location: s-<session hex>``, which makes nginx-rtmp rename
    the stream, so every reader uses the opaque name and the ingest key never appears in
    a process argv. Playing is allowed from 127.0.0.1 only (our relays and encoders), and
    ``on_play`` tells the web when each of them is connected.
``rendition``
    Where our own encoders publish transcoded renditions (``s-<hex>-720p``). Loopback
    only in both directions and no callbacks: the web must not mistake an encoder for a
    creator, and nobody outside the node needs it.
``sink`` (optional)
    A local stand-in destination for development and tests: accepts publishes from
    loopback and writes HLS under ``<runtime>/hls`` for a browser preview.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

RTMP_MODULE_PATH = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
LIVE_APP = "live"
RENDITION_APP = "rendition"
SINK_APP = "sink"
CALLBACK_PATHS = {
    "on_publish": "/rtmp/on_publish/",
    "on_play": "/rtmp/on_play/",
    "on_publish_done": "/rtmp/on_publish_done/",
    "on_update": "/rtmp/on_update/",
    "on_rendition_publish": "/rtmp/rendition/on_publish/",
    "on_rendition_play": "/rtmp/rendition/on_play/",
}


@dataclass(frozen=True)
class RtmpConfig:
    """Everything that varies between media nodes; the rest of the config is policy."""

    rtmp_port: int
    callback_base: str
    runtime_dir: Path
    node_name: str = "node1"
    hls_http_port: int | None = None
    listen_host: str | None = None
    include_sink: bool = True
    module_path: str = RTMP_MODULE_PATH
    worker_connections: int = 4096
    user: str | None = None
    # True lets relays and encoders connect to a session's name before the publisher's media
    # flows (the web holds on_publish until they have): they get the first keyframe instead
    # of waiting up to a keyframe interval (docs/performance.md). False closes them at once.
    idle_streams: bool = True
    # Seconds between on_update calls for every publisher and reader of `live`: how soon a
    # stopped or over-limit session's publisher (and any stray reader) is dropped.
    update_seconds: int = 30
    # Loopback HTTP port of nginx-rtmp's control module: the node's media worker asks it to
    # drop a stopped session's publisher at once (``drop_publisher_url``). None: not served.
    control_port: int | None = None


def callback_url(base: str, callback: str, node_name: str) -> str:
    """The URL nginx calls for ``callback``; the node name tells the web which node took it."""
    return f"{base.rstrip('/')}{CALLBACK_PATHS[callback]}?node={node_name}"


CONTROL_PATH = "/control"


def drop_url(control_port: int, who: str, app: str, stream_name: str) -> str:
    """The control module's URL that disconnects the ``who`` ("publisher" or "subscriber": every
    reader) of ``app``/``stream_name``."""
    if who not in ("publisher", "subscriber"):
        raise ValueError(f"nginx-rtmp drops a publisher or subscribers, not {who!r}")
    if not stream_name.replace("-", "").isalnum():
        raise ValueError("stream names are letters, digits and '-'")
    return f"http://127.0.0.1:{control_port}{CONTROL_PATH}/drop/{who}?app={app}&name={stream_name}"


def _listen(host: str | None, port: int) -> str:
    return f"{host}:{port}" if host else str(port)


def render_nginx_rtmp_config(config: RtmpConfig) -> str:
    """Return a complete nginx.conf for ``config``; every path it writes is under runtime_dir.

    ``nginx -p <runtime_dir> -c <file>`` runs it in the foreground (``daemon off``) as an
    ordinary user or as root, without touching /etc, /var/log or /var/lib.
    """
    rt = Path(config.runtime_dir)
    node = config.node_name
    if not node.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"node name must be letters, digits, '-' or '_': {node!r}")
    # nginx would read a quote or brace in a URL as the end of the directive.
    if any(ch in config.callback_base for ch in " ;{}'\"\n"):
        raise ValueError("callback base URL contains characters nginx cannot take unquoted")
    on = {name: callback_url(config.callback_base, name, node) for name in CALLBACK_PATHS}
    # Started as root, nginx runs its worker (the process that talks RTMP to the world) as
    # `user` (``prepare_runtime_dir`` gives it the two directories it writes); unprivileged,
    # nginx ignores `user` and the worker is that user anyway.
    lines = [
        f"# Rendered by streaming.rtmp_config for media node {node}; do not edit by hand.",
        f"load_module {config.module_path};",
        *([f"user {config.user};"] if config.user else []),
        "daemon off;",
        "master_process on;",
        # One worker: nginx-rtmp keeps live streams per worker, so with more workers a
        # player could land on a worker that does not hold the publisher's stream.
        "worker_processes 1;",
        f"pid {rt / 'nginx.pid'};",
        # `warn`, never `info`: nginx-rtmp logs "publish: name='<ingest key>'" at info.
        f"error_log {rt / 'logs' / 'error.log'} warn;",
        "",
        "events {",
        f"    worker_connections {config.worker_connections};",
        "}",
        "",
        "rtmp {",
        # The RTMP access log records each session's stream name, which in `live` is the
        # secret ingest key before the callback renames it.
        "    access_log off;",
        "    server {",
        f"        listen {_listen(config.listen_host, config.rtmp_port)};",
        "        chunk_size 4096;",
        "",
        f"        application {LIVE_APP} {{",
        "            live on;",
        "            record off;",
        # On: a reader may wait on a name before it is published (a relay waits at most its
        # read timeout); when the publisher leaves, readers get end-of-stream all the same.
        f"            idle_streams {'on' if config.idle_streams else 'off'};",
        f"            on_publish {on['on_publish']};",
        # Tells the web a relay/encoder is connected; refuses names of no open session.
        f"            on_play {on['on_play']};",
        f"            on_publish_done {on['on_publish_done']};",
        f"            on_update {on['on_update']};",
        "            notify_method post;",
        f"            notify_update_timeout {int(config.update_seconds)}s;",
        "            drop_idle_publisher 10s;",
        "            allow publish all;",
        "            allow play 127.0.0.1;",
        "            deny play all;",
        "        }",
        "",
        f"        application {RENDITION_APP} {{",
        "            live on;",
        "            record off;",
        # On, as in live: a destination's relay or a branded recorder connects before its
        # encoder publishes and so gets the rendition's first keyframe (off, it was refused and
        # joined at the next one). The encoder's publish is held until they have (on_publish),
        # on_play tells the web which reader came.
        f"            idle_streams {'on' if config.idle_streams else 'off'};",
        f"            on_publish {on['on_rendition_publish']};",
        f"            on_play {on['on_rendition_play']};",
        "            notify_method post;",
        "            drop_idle_publisher 10s;",
        "            allow publish 127.0.0.1;",
        "            deny publish all;",
        "            allow play 127.0.0.1;",
        "            deny play all;",
        "        }",
    ]
    if config.include_sink:
        lines += [
            "",
            f"        application {SINK_APP} {{",
            "            live on;",
            "            record off;",
            "            allow publish 127.0.0.1;",
            "            deny publish all;",
            "            allow play 127.0.0.1;",
            "            deny play all;",
            "            hls on;",
            f"            hls_path {rt / 'hls'};",
            "            hls_fragment 1s;",
            "            hls_playlist_length 6s;",
            "        }",
        ]
    lines += ["    }", "}"]
    if config.hls_http_port is not None or config.control_port is not None:
        tmp = rt / "tmp"
        lines += [
            "",
            "http {",
            "    access_log off;",
            # Debian's compiled-in temp paths live in /var/lib/nginx; keep ours private.
            f"    client_body_temp_path {tmp / 'client_body'};",
            f"    proxy_temp_path {tmp / 'proxy'};",
            f"    fastcgi_temp_path {tmp / 'fastcgi'};",
            f"    uwsgi_temp_path {tmp / 'uwsgi'};",
            f"    scgi_temp_path {tmp / 'scgi'};",
        ]
    if config.hls_http_port is not None:
        lines += [
            "    types {",
            "        application/vnd.apple.mpegurl m3u8;",
            "        video/mp2t ts;",
            "    }",
            "    server {",
            f"        listen {_listen(config.listen_host or '127.0.0.1', config.hls_http_port)};",
            "        location /hls/ {",
            f"            alias {rt / 'hls'}/;",
            # The studio page (another origin in development) plays the preview with hls.js.
            "            add_header Access-Control-Allow-Origin * always;",
            "            add_header Cache-Control no-cache always;",
            "        }",
            "    }",
        ]
    if config.control_port is not None:
        lines += [
            # Drops publishers and readers on request: bound to loopback and allowed from
            # loopback only, whatever listen_host says (only this node's media worker calls it).
            "    server {",
            f"        listen 127.0.0.1:{config.control_port};",
            f"        location {CONTROL_PATH} {{",
            "            rtmp_control all;",
            "            allow 127.0.0.1;",
            "            deny all;",
            "        }",
            "    }",
        ]
    if config.hls_http_port is not None or config.control_port is not None:
        lines.append("}")
    return "\n".join(lines) + "\n"


def user_and_group(name: str) -> str:
    """``name`` and its primary group, for nginx's ``user`` (which otherwise looks for a group
    of the same name: Debian's ``nobody`` is in ``nogroup``)."""
    account = pwd.getpwnam(name)
    return f"{name} {grp.getgrgid(account.pw_gid).gr_name}"


def prepare_runtime_dir(runtime_dir: Path, worker_user: str | None = None) -> None:
    """Create the directories the rendered config writes to (nginx does not create them).

    With ``worker_user`` (nginx started as root drops its worker to that user) the worker gets
    the directories it writes (``hls``, ``tmp``) and may reach them; the master, still root,
    writes the logs and the pid file.
    """
    runtime = Path(runtime_dir)
    for sub in ("logs", "hls", "tmp"):
        (runtime / sub).mkdir(parents=True, exist_ok=True)
    if worker_user is not None:
        account = pwd.getpwnam(worker_user)
        runtime.chmod(0o755)
        for sub in ("hls", "tmp"):
            os.chown(runtime / sub, account.pw_uid, account.pw_gid)


def nginx_command(conf_path: Path, runtime_dir: Path, nginx: str = "nginx", test: bool = False) -> list[str]:
    """argv that runs (or with ``test`` checks) nginx with the rendered config."""
    argv = [nginx, "-p", f"{Path(runtime_dir)}/", "-c", str(conf_path)]
    # -e: Debian's nginx opens /var/log/nginx/error.log before reading the config.
    argv[1:1] = ["-e", str(Path(runtime_dir) / "logs" / "error.log")]
    if test:
        argv.append("-t")
    return argv
