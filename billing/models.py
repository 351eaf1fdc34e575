"""A creator's subscription: which plan they are on, kept in step with Stripe."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from billing.plans import PlanLimits, PlanName, limits_of


class Subscription(models.Model):
    class Plan(models.TextChoices):
        FREE = PlanName.FREE, "Free"
        PRO = PlanName.PRO, "Pro"
        BUSINESS = PlanName.BUSINESS, "Business"

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        TRIALING = "TRIALING", "Trialing"
        PAST_DUE = "PAST_DUE", "Past due"
        CANCELED = "CANCELED", "Canceled"

    # Stripe keeps retrying a past-due invoice; the paid plan holds until it gives up and cancels.
    PAID_STATUSES = (Status.ACTIVE, Status.TRIALING, Status.PAST_DUE)

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription"
    )
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["plan", "status"])]

    def __str__(self) -> str:
        return f"{self.user} on {self.plan} ({self.status})"

    @property
    def effective_plan(self) -> PlanName:
        """The plan whose limits apply now: FREE unless a paid plan is in good standing."""
        if self.plan != PlanName.FREE and self.status in self.PAID_STATUSES:
            return PlanName(self.plan)
        return PlanName.FREE

    @property
    def limits(self) -> PlanLimits:
        return limits_of(self.effective_plan)


def plan_limits_for(user: models.Model) -> PlanLimits:
    """The limits that apply to ``user`` right now; users without a subscription row are on FREE."""
    subscription = Subscription.objects.filter(user=user).only("plan", "status").first()
    return subscription.limits if subscription else limits_of(PlanName.FREE)
