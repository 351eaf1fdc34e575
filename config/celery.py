"""The Celery app: queue `default` for platform and Stripe work, `media.<node>` for each media node."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("prism")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
