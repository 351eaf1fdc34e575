from django.apps import AppConfig


class WhipConfig(AppConfig):
    """WHIP (RFC 9725) ingest: browsers and OBS publish over WebRTC; we publish RTMP into the ingest."""

    name = "whip"
    verbose_name = "WHIP ingest"
