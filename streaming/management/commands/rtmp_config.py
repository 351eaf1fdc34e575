"""Render this media node's nginx-rtmp config to var/run/nginx-<node>/, and with --run, run nginx."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from streaming.rtmp_config import (
    RtmpConfig,
    nginx_command,
    prepare_runtime_dir,
    render_nginx_rtmp_config,
    user_and_group,
)


class Command(BaseCommand):
    help = "Write the RTMP ingest's nginx.conf for MEDIA_NODE (and run nginx in the foreground with --run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", action="store_true", help="exec nginx with the rendered config")
        parser.add_argument(
            "--hls-port",
            type=int,
            default=None,
            help="also serve the local sink's HLS from nginx on this loopback port (off by default: the "
            "studio serves the preview to the destination's owner only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        node = settings.MEDIA_NODE
        runtime = Path(settings.VAR_DIR) / "run" / f"nginx-{node}"
        # Started as root, nginx's worker (which speaks RTMP to the world) runs unprivileged.
        worker_user = settings.RTMP_WORKER_USER if os.geteuid() == 0 else None
        prepare_runtime_dir(runtime, worker_user)
        conf = runtime / "nginx.conf"
        conf.write_text(
            render_nginx_rtmp_config(
                RtmpConfig(
                    rtmp_port=settings.RTMP_PORT,
                    callback_base=settings.RTMP_CALLBACK_BASE,
                    runtime_dir=runtime,
                    node_name=node,
                    hls_http_port=options["hls_port"],
                    update_seconds=settings.RTMP_UPDATE_SECONDS,
                    control_port=settings.RTMP_CONTROL_PORT,
                    user=user_and_group(worker_user) if worker_user else None,
                )
            )
        )
        self.stdout.write(f"Wrote {conf} for media node {node} (RTMP port {settings.RTMP_PORT}).")
        if options["run"]:
            argv = nginx_command(conf, runtime)
            os.execvp(argv[0], argv)  # noqa: S606 - replace this process: honcho supervises nginx itself
