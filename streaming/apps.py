from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from streaming.models import session_changed
        from streaming.status import push_session_status

        session_changed.register(push_session_status)
