"""Celery tasks of billing: take ids, reload, check state, idempotent."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from billing.enforcement import carry_out_plan_enforcement
from billing.models import PlanEnforcement

STUCK_AFTER = timedelta(minutes=10)


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=12,
)
def enforce_plan_change(enforcement_id: int) -> str:
    """Carry out one PlanEnforcement: enforcers and notice once, then the e-mail, retried while the mail
    server refuses (the retry only sends the mail)."""
    return carry_out_plan_enforcement(enforcement_id)


@shared_task
def requeue_stuck_plan_enforcements() -> int:
    """From beat: queue again the enforcements not DONE whose task was lost (a broker restart, or retries
    that ran out while the mail server was down). Returns how many were queued."""
    stuck = PlanEnforcement.objects.exclude(state=PlanEnforcement.State.DONE).filter(
        updated_at__lt=timezone.now() - STUCK_AFTER
    )
    ids = list(stuck.values_list("pk", flat=True)[:500])
    for pk in ids:
        enforce_plan_change.delay(pk)
    return len(ids)
