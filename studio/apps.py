import importlib.util

from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from streaming.consumers import register_message
        from studio import live

        register_message("go_live", live.go_live)
        register_message("audio_settings", live.audio_settings)
        # The WHIP ingest app (a layer below the studio) mints the browser's publish tokens; an
        # installation without it still serves the studio, and go_live says what is missing.
        if importlib.util.find_spec("whip") is not None:
            from whip.tokens import mint_studio_token  # type: ignore[import-not-found]

            live.token_minter = mint_studio_token
