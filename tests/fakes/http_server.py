"""A small threaded HTTP server on loopback that fakes an outside service's HTTP API.

Fakes subclass ``FakeService``, register routes with ``@route(METHOD, r"regex")`` and
return ``Reply`` objects. The server binds 127.0.0.1 on a free port, runs in a daemon
thread and records every request it answered, so tests can assert on what our code sent.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    @property
    def form(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.body.decode(), keep_blank_values=True)

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of ``name`` from the query string or a form-encoded body."""
        for source in (self.query, self.form if self.body else {}):
            if name in source:
                return source[name][0]
        return default


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


Handler = Callable[[Any, Request], Reply]


class Gate:
    """Holds the requests it matches until ``release()``: a platform that is slow at the HTTP level,
    for as long as a test needs (never longer than ``limit`` seconds)."""

    def __init__(self, method: str, pattern: str, limit: float = 30.0) -> None:
        self.method, self.pattern, self.limit = method.upper(), re.compile(pattern + r"\Z"), limit
        self.arrived = 0
        self._changed = threading.Condition()
        self._open = threading.Event()

    def matches(self, request: Request) -> bool:
        return request.method == self.method and self.pattern.match(request.path) is not None

    def pass_through(self) -> None:
        with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        self._open.wait(self.limit)

    def wait_for(self, count: int, timeout: float) -> bool:
        """True once ``count`` requests are being held (or went through)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.arrived >= count, timeout)

    def release(self) -> None:
        self._open.set()


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        handler.__dict__.setdefault("_routes", []).append((method.upper(), re.compile(pattern + r"\Z")))
        return handler

    return mark


class FakeService:
    """Base class: collects @route handlers and serves them on 127.0.0.1:<free port>."""

    routes: ClassVar[list[tuple[str, re.Pattern[str], str]]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.routes = []
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                for method, pattern in getattr(attr, "_routes", []):
                    cls.routes.append((method, pattern, name))

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.gates: list[Gate] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def hold(self, method: str, pattern: str) -> Gate:
        """Hold every ``method`` request to a path matching ``pattern`` until the gate is released."""
        gate = Gate(method, pattern)
        with self.lock:
            self.gates.append(gate)
        return gate

    def dispatch(self, request: Request) -> Reply:
        for gate in list(self.gates):
            if gate.matches(request):
                gate.pass_through()
        for method, pattern, name in self.routes:
            if method != request.method:
                continue
            found = pattern.match(request.path)
            if found:
                request.match = found
                with self.lock:
                    self.requests.append(request)
                return getattr(self, name)(request)
        return Reply(404, {"error": {"message": f"no fake for {request.method} {request.path}"}})

    def start(self) -> Self:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parsed.path,
                    query=urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                try:
                    reply = service.dispatch(request)
                except Exception as exc:  # a bug in the fake must show up in the test, not hang it
                    reply = Reply(500, {"error": {"message": f"fake crashed: {exc!r}"}})
                payload = reply.encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for gate in self.gates:
            gate.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
