from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Recordings sit above billing and streaming: each calls them through its hooks.
        from billing.enforcement import register_plan_enforcer
        from recordings.actions import (
            enforce_plan_on_storage,
            recorder_readers_for_new_session,
            recorder_reads_rendition,
            records_branded,
            withdraw_recording,
        )
        from streaming import hooks

        register_plan_enforcer("recordings.storage", enforce_plan_on_storage)
        hooks.records_branded.register(records_branded)
        hooks.session_planned.register(recorder_readers_for_new_session)
        hooks.rendition_readers.register(recorder_reads_rendition)
        hooks.session_withdrawn.register(withdraw_recording)
