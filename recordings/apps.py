from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.enforcement import register_plan_enforcer
        from recordings.actions import enforce_plan_on_storage

        register_plan_enforcer("recordings.storage", enforce_plan_on_storage)
