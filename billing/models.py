"""A creator's subscription: which plan they are on, kept in step with Stripe."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from billing.plans import PLANS_IN_ORDER, PlanLimits, PlanName, limits_of
from billing.stripe_state import StripeSubscriptionState

SYNCED_FIELDS = (
    "plan",
    "status",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "stripe_subscription_id",
)


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

    @classmethod
    def locked_for(cls, user_id: int) -> Subscription:
        """The user's row, created on FREE if missing, locked until the transaction ends."""
        cls.objects.get_or_create(user_id=user_id)
        return cls.objects.select_for_update().get(user_id=user_id)

    def remember_customer(self, customer_id: str) -> None:
        locked = Subscription.objects.select_for_update().get(pk=self.pk)
        if locked.stripe_customer_id != customer_id:
            locked.stripe_customer_id = customer_id
            locked.save(update_fields=["stripe_customer_id", "updated_at"])
        self.stripe_customer_id = customer_id

    def apply_stripe_state(
        self, state: StripeSubscriptionState, event_id: str = ""
    ) -> SubscriptionChange | None:
        """Make this (locked) row follow ``state``; record and return the change, None if nothing changed.

        An older subscription of the same customer that ends does not end the one the user holds now.
        """
        if (
            self.stripe_subscription_id
            and self.stripe_subscription_id != state.subscription_id
            and not state.grants_paid_plan
        ):
            return None
        wanted = {
            "plan": str(state.plan),
            "status": state.status,
            "current_period_start": state.current_period_start,
            "current_period_end": state.current_period_end,
            "cancel_at_period_end": state.cancel_at_period_end,
            "stripe_subscription_id": state.subscription_id,
        }
        changed = [name for name in SYNCED_FIELDS if getattr(self, name) != wanted[name]]
        if not changed:
            return None
        before_plan, before_status = self.effective_plan, self.status
        for name in changed:
            setattr(self, name, wanted[name])
        if state.customer_id and not self.stripe_customer_id:
            self.stripe_customer_id = state.customer_id
            changed.append("stripe_customer_id")
        self.save(update_fields=[*changed, "updated_at"])
        return SubscriptionChange.objects.create(
            subscription=self,
            stripe_event_id=event_id,
            from_plan=before_plan,
            to_plan=self.effective_plan,
            from_status=before_status,
            to_status=self.status,
            fields=",".join(changed),
        )


class SubscriptionChange(models.Model):
    """One change of a Subscription made by a Stripe event: what the effective plan and status were and
    became. Written in the same transaction as the change itself."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    stripe_event_id = models.CharField(max_length=255, blank=True, db_index=True)
    from_plan = models.CharField(max_length=16, choices=Subscription.Plan.choices)
    to_plan = models.CharField(max_length=16, choices=Subscription.Plan.choices)
    from_status = models.CharField(max_length=16, choices=Subscription.Status.choices)
    to_status = models.CharField(max_length=16, choices=Subscription.Status.choices)
    fields = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.from_plan}/{self.from_status} -> {self.to_plan}/{self.to_status}"

    @property
    def is_downgrade(self) -> bool:
        order = [plan.name for plan in PLANS_IN_ORDER]
        return order.index(PlanName(self.to_plan)) < order.index(PlanName(self.from_plan))


def plan_limits_for(user: models.Model) -> PlanLimits:
    """The limits that apply to ``user`` right now; users without a subscription row are on FREE."""
    subscription = Subscription.objects.filter(user=user).only("plan", "status").first()
    return subscription.limits if subscription else limits_of(PlanName.FREE)
