from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine plans the branded rendition a recording reads, and starts the recorder with
        # the session's supervisors, through hooks (recordings sits above it).
        from recordings.actions import records_branded, start_session_recording
        from streaming import hooks

        hooks.records_branded.register(records_branded)
        hooks.session_planned.register(start_session_recording)
