"""After the effective plan changes, each app that holds resources enforces its own part.

billing decides the plan; it never imports the apps above it (platforms, streaming, recordings). Those
apps register a *plan enforcer* from their AppConfig.ready(): a function ``(user_id, limits) -> sentences``
that makes the user's resources fit ``limits`` (the plan the user holds now) and says what it did. An
enforcer must be idempotent: it may run again after a crash, and a second run finds nothing to do.

``carry_out_plan_enforcement`` runs the enforcers and writes the in-app notice in one transaction, then
sends the e-mail; billing.tasks retries it while the mail server refuses.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

from django.core.mail import send_mail
from django.db import transaction

from accounts.models import User
from accounts.notices import notify
from billing.models import PlanEnforcement, plan_limits_for
from billing.plans import PlanLimits

logger = logging.getLogger(__name__)

PlanEnforcer = Callable[[int, PlanLimits], list[str]]
_enforcers: dict[str, PlanEnforcer] = {}


def register_plan_enforcer(name: str, enforcer: PlanEnforcer) -> None:
    """Called from an app's ready(); registering the same name again replaces the earlier one."""
    _enforcers[name] = enforcer


def registered_plan_enforcers() -> tuple[str, ...]:
    return tuple(_enforcers)


def _enforce_and_notify(job: PlanEnforcement) -> None:
    user = User.objects.get(pk=job.user_id)
    # The plan the user holds now: a later change may already have moved it again.
    limits = plan_limits_for(user)
    lines = [f"Your Prism plan is now {limits.title}."]
    for name, enforcer in _enforcers.items():
        with transaction.atomic():
            found = enforcer(job.user_id, limits)
        logger.info("Plan enforcer %s for user %s: %s", name, job.user_id, found or "nothing to do")
        lines.extend(found)
    lowered = job.change.is_downgrade
    if lowered or len(lines) > 1:
        # Written before the mail: the e-mail may fail or go unread, the next page they open says it too.
        notify(job.user_id, " ".join(lines), with_pricing=lowered)
    if lowered:
        lines.append("You can upgrade again at any time from the Pricing page.")
    job.transition_to(
        PlanEnforcement.State.NOTIFIED,
        subject=f"Your Prism plan is now {limits.title}",
        message="\n\n".join(lines),
        send_mail=lowered,
    )


def carry_out_plan_enforcement(job_id: int) -> str:
    """Take enforcement ``job_id`` as far as it goes; returns its state. Mail errors propagate (the task
    retries them); the enforcing and the notice are committed before the mail is tried."""
    with transaction.atomic():
        job = PlanEnforcement.objects.select_for_update().filter(pk=job_id).select_related("change").first()
        if job is None:
            return "MISSING"
        if job.state == PlanEnforcement.State.PENDING:
            _enforce_and_notify(job)
    failure: Exception | None = None
    with transaction.atomic():
        job = PlanEnforcement.objects.select_for_update().get(pk=job_id)
        if job.state != PlanEnforcement.State.NOTIFIED:
            return job.state
        if job.send_mail:
            email = User.objects.values_list("email", flat=True).get(pk=job.user_id)
            try:
                send_mail(job.subject, job.message, None, [email])
            except (smtplib.SMTPException, OSError) as error:
                failure = error
                code = getattr(error, "smtp_code", "")
                job.attempts += 1
                job.last_error = f"{type(error).__name__} {code}".strip()
                job.save(update_fields=["attempts", "last_error", "updated_at"])
        if failure is None:
            job.transition_to(PlanEnforcement.State.DONE)
    if failure is not None:
        logger.warning("Plan notice mail of enforcement %s not sent: %s", job_id, job.last_error)
        raise failure
    return PlanEnforcement.State.DONE
