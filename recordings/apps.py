from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.enforcement import register_plan_enforcer
        from recordings.actions import (
            enforce_plan_on_storage,
            recorder_readers_for_new_session,
            withdraw_recording,
        )
        from streaming import actions

        register_plan_enforcer("recordings.storage", enforce_plan_on_storage)
        # Recordings sit above streaming: the engine calls them through its hooks.
        if recorder_readers_for_new_session not in actions.session_started_hooks:
            actions.session_started_hooks.append(recorder_readers_for_new_session)
        if withdraw_recording not in actions.session_withdrawn_hooks:
            actions.session_withdrawn_hooks.append(withdraw_recording)
