from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine asks for the creator's preferred quality, and the status socket for the
        # studio's messages, through hooks (studio sits above both).
        from streaming import hooks
        from streaming.consumers import register_message
        from studio import live
        from studio.models import StudioSettings

        hooks.preferred_quality.register(StudioSettings.preferred_quality_of)
        hooks.stream_title.register(StudioSettings.next_title_of)
        register_message("go_live", live.go_live)
        register_message("audio_settings", live.audio_settings)
