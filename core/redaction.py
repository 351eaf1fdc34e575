"""Redaction of secrets in text we store or print: URLs' credentials, queries and RTMP stream keys.

Django-free: the relay's stderr, error messages and every log record (``RedactingFilter``) use it.
"""

from __future__ import annotations

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
