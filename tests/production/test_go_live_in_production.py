"""Go-live as deployed with .env.example and DEBUG off, end to end on loopback.

The Procfile's own lines run (release, web, media) in an environment made from .env.example
(secrets generated; database, ports and directories pointed at this test's); nginx-rtmp is
rendered by streaming.rtmp_config as `rtmp_config --run` renders it. The test stands in for the
TLS proxy: every request names Host prism.example.com and carries X-Forwarded-Proto: https and
X-Forwarded-For. It signs in, adds a destination (a local sink), publishes with FFmpeg into the
real nginx-rtmp and waits until the sink decodes the stream, while nginx's callbacks (which name
127.0.0.1 as their host) are answered by the web under ALLOWED_HOSTS=prism.example.com.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sites.models import Site
from django.db import connection

from billing.plans import PlanName
from streaming import actions
from streaming.models import StreamSession
from tests.conftest import PASSWORD
from tests.rtmp_stack import (
    REPO_ROOT,
    IngestServer,
    Publisher,
    SinkServer,
    free_port,
    stop_process,
    wait_for_port,
    wait_until,
)
from tests.streaming.conftest import creator, node_name, relay_pids, session_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
PUBLIC_HOST = "prism.example.com"
CLIENT_ADDR = "198.51.100.7"


def env_example() -> dict[str, str]:
    """Every variable .env.example sets, as the operator who copies it gets them."""
    values = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def procfile_line(name: str) -> str:
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in the Procfile")


def production_env(tmp: Path, web_port: int, rtmp_port: int, node: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    example = env_example()
    assert example["DEBUG"] == "0"
    assert example["ALLOWED_HOSTS"] == PUBLIC_HOST
    return {
        **example,
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp),
        "ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # What .env.example leaves for the operator to fill in.
        "SECRET_KEY": secrets.token_urlsafe(50),
        # Generated for this test (see the fixture), shared with this process, which reads rows too.
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        # This test's database, ports and directories instead of the machine's.
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CHANNEL_LAYER_PREFIX": f"test-{settings.TEST_RUN_ID}-prod",
        "STATIC_ROOT": str(tmp / "static"),
        "MEDIA_ROOT": str(tmp / "media"),
        "WEB_PORT": str(web_port),
        "RTMP_PORT": str(rtmp_port),
        "RTMP_CALLBACK_BASE": f"http://127.0.0.1:{web_port}",
        "MEDIA_NODE": node,
        "DB_POOL_MAX_SIZE": "3",
    }


@dataclass
class Started:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start(command: str, env: dict[str, str], log: Path) -> Started:
    """A Procfile line, as honcho runs it (a shell), in its own process group."""
    proc = subprocess.Popen(
        ["/bin/bash", "-c", command],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Started(proc, log)


def stop(started: Started) -> None:
    stop_process(started.proc, signal.SIGTERM, grace=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(started.proc.pid, signal.SIGKILL)


class Proxy:
    """What the TLS proxy forwards to daphne: Host, X-Forwarded-Proto and -For; cookies kept by hand
    (they are Secure, which a client speaking plain HTTP to daphne would rightly not send)."""

    def __init__(self, web_port: int) -> None:
        self.base = f"http://127.0.0.1:{web_port}"
        self.cookies: dict[str, str] = {}
        self.secure_flags: dict[str, bool] = {}

    def request(self, method: str, path: str, *, tls: bool = True, **kwargs: object) -> requests.Response:
        headers = {"Host": PUBLIC_HOST, "X-Forwarded-For": CLIENT_ADDR}
        if tls:
            headers["X-Forwarded-Proto"] = "https"
        if method == "POST":
            headers["Origin"] = f"https://{PUBLIC_HOST}"
            headers["Referer"] = f"https://{PUBLIC_HOST}{path}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
                self.secure_flags[name] = bool(morsel["secure"])
        return response

    def csrf_token(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match, "no CSRF token in the form"
        return match.group(1)


@pytest.fixture
def deployment(tmp_path: Path, settings: object) -> Iterator[tuple[dict[str, str], int, str]]:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # type: ignore[attr-defined]
    web_port, rtmp_port, node = free_port(), free_port(), node_name("prod")
    env = production_env(tmp_path, web_port, rtmp_port, node)
    yield env, web_port, node
    leftover = relay_pids()
    for pid in leftover:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    connection.close()
    assert not leftover, f"orphan media processes: {leftover}"


def test_release_then_sign_in_through_the_proxy_and_go_live(
    deployment: tuple[dict[str, str], int, str], tmp_path: Path
) -> None:
    env, web_port, node = deployment
    user, ingest_key = creator("golive@example.com", PlanName.PRO)
    # The suite hashes with MD5 for speed; production knows only its default hashers.
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])

    release = subprocess.run(
        ["/bin/bash", "-c", procfile_line("release")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert release.returncode == 0, release.stdout[-2000:] + release.stderr[-3000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()
    site = Site.objects.get(pk=settings.SITE_ID)  # e-mails are signed with it
    assert (site.domain, site.name) == (PUBLIC_HOST, PUBLIC_HOST)

    access_log = tmp_path / "access.log"
    web = start(f"{procfile_line('web')} --access-log {access_log}", env, tmp_path / "web.log")
    media = start(procfile_line("media"), env, tmp_path / "media.log")
    try:
        wait_for_port(web_port, timeout=60)
        assert wait_until(lambda: "ready." in media.text() or media.proc.poll() is not None, 60), media.text()
        assert media.proc.poll() is None, media.text()[-3000:]
        proxy = Proxy(web_port)

        # Plain HTTP at the proxy's back is sent to HTTPS; the probe answers on plain HTTP.
        assert proxy.request("GET", "/accounts/login/", tls=False).status_code == 301
        health = requests.get(
            f"http://127.0.0.1:{web_port}/healthz", headers={"Host": PUBLIC_HOST}, timeout=30
        )
        assert health.status_code == 200, health.text
        assert health.json()["pages"] == "ok"

        login_page = proxy.request("GET", "/accounts/login/")
        assert login_page.status_code == 200, web.text()[-3000:]
        css = re.search(r'href="(/static/css/prism\.[0-9a-f]{12}\.css)"', login_page.text)
        assert css, "the page names its CSS by hashed name"
        assert proxy.request("GET", css.group(1)).status_code == 200
        assert proxy.secure_flags.get("csrftoken") is True

        signed_in = proxy.request(
            "POST",
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": proxy.csrf_token(login_page.text),
                "login": user.email,
                "password": PASSWORD,
            },
        )
        assert signed_in.status_code == 302, signed_in.text[-2000:]
        assert proxy.secure_flags.get("sessionid") is True
        assert proxy.request("GET", "/studio/").status_code == 200

        # nginx with the production config, on the RTMP_PORT the media worker reads the ingest from.
        ingest = IngestServer(env["RTMP_CALLBACK_BASE"], node_name=node, update_seconds=2)
        ingest.port = int(env["RTMP_PORT"])
        with SinkServer() as sink, ingest:
            destinations = proxy.request("GET", "/destinations/")
            added = proxy.request(
                "POST",
                "/destinations/",
                data={
                    "csrfmiddlewaretoken": proxy.csrf_token(destinations.text),
                    "name": "Local sink",
                    "rtmp_url": sink.url("sink-key").rpartition("/")[0],
                    "stream_key": "sink-key",
                    "include_in_stream": "on",
                },
            )
            assert added.status_code == 302, added.text[-2000:]

            with Publisher(ingest.url(ingest_key), keyframe_seconds=1):
                wait_for(
                    lambda: sink.first_video_tag("sink-key", keyframe=True), 60, "the stream at the sink"
                )
                session = session_of(user)
                assert session is not None
                # nginx asks on_update every 2 s for the publisher and each reader: the stream
                # survives several of them, through the same host validation.
                wait_for(lambda: access_log.read_text().count("/rtmp/on_update/") >= 4, 30, "on_update calls")
                assert sink.decoded_frames("sink-key") > 30
                assert session_of(user).state == StreamSession.State.LIVE
            # on_publish_done got through as well: the session waits for its publisher (grace period).
            wait_for(lambda: not session_of(user).publisher_connected, 20, "on_publish_done")
            actions.stop_session(session.pk)
            wait_for(lambda: session_of(user).state == StreamSession.State.ENDED, 30, "the session ENDED")
            wait_for(lambda: not relay_pids(), 15, "every relay gone")
        calls = [line for line in access_log.read_text().splitlines() if "/rtmp/" in line]
        assert calls, "nginx-rtmp called back"
        assert not [line for line in calls if '" 400 ' in line or " 400 " in line], calls
        assert ingest_key not in access_log.read_text()
    finally:
        stop(media)
        stop(web)
