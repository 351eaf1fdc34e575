from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "platforms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.enforcement import register_plan_enforcer
        from platforms.actions import enforce_plan_on_destinations

        register_plan_enforcer("platforms.destinations", enforce_plan_on_destinations)
