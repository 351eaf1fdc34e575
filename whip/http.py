"""A small HTTP/1.1 server on asyncio streams: enough for WHIP, nothing more.

WHIP is four methods on two paths with bodies of a few KiB, so the server reads one request per
connection (``Connection: close``), with hard limits on header and body size and on the time a
client may take to send them (a slow client cannot hold a connection open). Why not aiohttp:
docs/decisions.md ("The WHIP server speaks HTTP itself").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT_SECONDS = 10.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, message: str, **headers: str) -> Response:
        return cls(
            status, (message + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8", **headers}
        )

    def encode(self) -> bytes:
        reason = HTTPStatus(self.status).phrase
        lines = [f"HTTP/1.1 {self.status} {reason}"]
        headers = {**self.headers, "Content-Length": str(len(self.body)), "Connection": "close"}
        headers.setdefault("Cache-Control", "no-store")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """Method, path and lower-cased headers of a request head (without the blank line)."""
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise BadRequest(400, "Malformed request line.") from None
    if not version.startswith("HTTP/1."):
        raise BadRequest(505, "HTTP/1.x only.")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, "Malformed header line.")
        headers[name.lower()] = value.strip()
    return method.upper(), target.split("?", 1)[0], headers


async def read_request(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "Request header too large.") from None
    except asyncio.IncompleteReadError:
        raise BadRequest(400, "Incomplete request.") from None
    method, path, headers = parse_head(head[:-4])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest(411, "Send a Content-Length, not a chunked body.")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest(400, "Bad Content-Length.") from None
    if length < 0:
        raise BadRequest(400, "Bad Content-Length.")
    if length > MAX_BODY_BYTES:
        raise BadRequest(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        body = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        raise BadRequest(400, "Incomplete body.") from None
    return Request(method, path, headers, body)


Handler = Callable[[Request], Awaitable[Response]]


def connection_handler(
    handle: Handler,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                request = await asyncio.wait_for(read_request(reader), READ_TIMEOUT_SECONDS)
                response = await handle(request)
            except BadRequest as exc:
                response = Response.text(exc.status, str(exc))
            except TimeoutError:
                response = Response.text(408, "Request timed out.")
            except Exception:
                logger.exception("whip request failed")
                response = Response.text(500, "Internal error.")
            writer.write(response.encode())
            await writer.drain()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    return on_connection


async def start_http_server(handle: Handler, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(
        connection_handler(handle), host, port, limit=MAX_HEAD_BYTES, reuse_address=True
    )
