"""Input for custom RTMP(S) destinations. Errors never repeat the key (or a URL that may hold one)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from django import forms


def split_server_and_key(url: str, key: str) -> tuple[str, str]:
    """Validate an RTMP(S) URL; when no key is given, a URL of the form server/app/KEY is split.

    Raises ValidationError with messages that hold neither the URL nor the key.
    """
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("rtmp", "rtmps"):
        raise forms.ValidationError("The server address must start with rtmp:// or rtmps://.")
    if not parts.hostname:
        raise forms.ValidationError("The server address needs a host name.")
    if parts.username or parts.password:
        raise forms.ValidationError("Put no user name or password in the server address.")
    try:
        parts.port  # noqa: B018 (parsing raises on a bad port)
    except ValueError:
        raise forms.ValidationError("The server address has an invalid port.") from None
    segments = [s for s in parts.path.split("/") if s]
    if not key:
        if len(segments) < 2:
            raise forms.ValidationError("Enter the stream key (or a full address ending in the key).")
        key, segments = segments[-1], segments[:-1]
    path = "/" + "/".join(segments) if segments else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), key


class CustomDestinationForm(forms.Form):
    name = forms.CharField(max_length=120)
    rtmp_url = forms.CharField(max_length=500, label="Server (rtmp:// or rtmps://)")
    stream_key = forms.CharField(
        max_length=500, required=False, widget=forms.PasswordInput(render_value=False), strip=True
    )
    include_in_stream = forms.BooleanField(required=False, initial=True, label="Include in my next stream")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "rtmp_url" in data:
            server, key = split_server_and_key(data["rtmp_url"], data.get("stream_key", ""))
            data["rtmp_url"], data["stream_key"] = server, key
            if len(key) < 4 or any(c.isspace() for c in key):
                raise forms.ValidationError("That stream key does not look right.")
        return data

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and self._errors:
            # A refused address may hold the key: never send it back into the re-rendered form.
            data = self.data.copy()
            data["rtmp_url"] = data["stream_key"] = ""
            self.data = data
