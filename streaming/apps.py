from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.enforcement import register_plan_enforcer
        from streaming import checks  # noqa: F401  (registers the system checks)
        from streaming.actions import enforce_plan_on_live_sessions
        from streaming.models import session_changed
        from streaming.status import push_session_status

        register_plan_enforcer("streaming.live_sessions", enforce_plan_on_live_sessions)
        session_changed.register(push_session_status)
