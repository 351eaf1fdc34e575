"""Redaction of secrets in text we store or print: URLs' credentials, queries and RTMP stream keys.

Django-free: the relay's stderr, error messages and every log record (``RedactingFilter``) use it.
"""

from __future__ import annotations

import logging
import re

_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>[^\s'\"<>]*)")
_REDACTED = "<redacted>"


def _redact_url(match: re.Match[str]) -> str:
    scheme, rest = match.group("scheme"), match.group("rest")
    # A query string or fragment can hold a token on any scheme.
    for sep in ("?", "#"):
        if sep in rest:
            rest = rest.split(sep, 1)[0] + sep + _REDACTED
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        # user:password@host
        authority = _REDACTED + "@" + authority.rsplit("@", 1)[1]
    if scheme.lower().startswith("rtmp") and slash:
        query = ""
        for sep in ("?", "#"):
            if sep in path:
                path, _, tail = path.partition(sep)
                query = sep + tail
                break
        head, _, last = path.rpartition("/")
        if last:
            # The stream key is the last path segment (rtmp://host/app/KEY); keep the app.
            path = (head + "/" if head else "") + _REDACTED
        path += query
    return f"{scheme}://{authority}{slash}{path}"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every URL's credentials, query and RTMP(S) stream key replaced.

    ``rtmps://live.example/app/KEY?x=1`` becomes ``rtmps://live.example/app/<redacted>?<redacted>``.
    ``secrets`` (e.g. a stream key known to the caller) are also replaced wherever they
    appear on their own, for output that quotes a key outside a URL.
    """
    if not isinstance(text, str):
        text = str(text)
    out = _URL.sub(_redact_url, text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, _REDACTED)
    return out


# Secrets that appear outside a URL: an Authorization header, a form or JSON field.
_BEARER = re.compile(r"(?i)\b(bearer|oauth)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_FIELD = re.compile(
    r"(?i)\b(access_token|refresh_token|client_secret|id_token|stream_key|streamkey|password|secret|token|key)"
    r"""(["']?\s*[=:]\s*["']?)([^\s&"',;}]+)"""
)


# An ingest key (``streaming.models.KEY_PREFIX`` + 32 URL-safe characters), wherever it is quoted.
_INGEST_KEY = re.compile(r"\blive_[A-Za-z0-9_-]{20,}")

# A request line's path with a query (urllib3: '"GET /helix/streams?user_id=1 HTTP/1.1"').
_PATH_QUERY = re.compile(r"""(?<![\w:/])(/[^\s?"'<>]*)\?[^\s"'<>]+""")


def redact_secrets(text: str) -> str:
    """``redact`` plus queries of bare paths, bearer tokens and ``name=value`` / ``"name": "value"``
    secrets."""
    text = _PATH_QUERY.sub(lambda m: f"{m.group(1)}?{_REDACTED}", redact(text))
    text = _INGEST_KEY.sub(_REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)
    return _FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, arguments and any traceback redacted."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what we can show, redacted
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = redact_secrets(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_secrets(record.exc_text)
        record.exc_info = None  # handlers print exc_text instead of formatting the exception again
    if record.stack_info:
        record.stack_info = redact_secrets(record.stack_info)
    return record


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process when it is made, whatever its logger and handler
    (Celery replaces the root handlers; urllib3 logs request lines at DEBUG)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def redacted_record(*args: object, **kwargs: object) -> logging.LogRecord:
        return redact_record(make(*args, **kwargs))

    logging.setLogRecordFactory(redacted_record)
    _installed = True
