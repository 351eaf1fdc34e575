from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.sites import sync_site_with_site_url

        # After django.contrib.sites made its default "example.com" (sites comes first in INSTALLED_APPS).
        post_migrate.connect(sync_site_with_site_url, sender=self, dispatch_uid="accounts.sync_site")
