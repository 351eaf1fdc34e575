from config.celery import app as celery_app
from core.redaction import install_log_redaction

# Every process (web, workers, beat, manage.py) logs through the redaction: no key or token in a log.
install_log_redaction()

__all__ = ["celery_app"]
