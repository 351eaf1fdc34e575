from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine asks for the creator's preferred quality through a hook (studio sits above it).
        from streaming import hooks
        from studio.models import StudioSettings

        hooks.preferred_quality.register(StudioSettings.preferred_quality_of)
