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
        UNPAID = "UNPAID", "Unpaid"
        CANCELED = "CANCELED", "Canceled"

    # Stripe keeps retrying a past-due invoice; the paid plan holds until it gives up (unpaid or canceled).
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
    # Live Stripe subscriptions of this customer other than the current one: they bill but grant nothing.
    # Shown to staff (admin filter, a WARNING in the log) to refund and cancel.
    other_live_subscriptions = models.CharField(max_length=255, blank=True, default="")
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

    @property
    def holds_live_subscription(self) -> bool:
        """A paid Stripe subscription in good standing or in Stripe's retries: plan changes modify it."""
        return bool(self.stripe_subscription_id) and self.effective_plan != PlanName.FREE

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
        """Make this (locked) row follow ``state``, the state of the customer's current Stripe subscription
        (``stripe_state.current_subscription`` chose it); record and return the change, None if nothing
        changed."""
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

    @property
    def changes_plan(self) -> bool:
        return self.to_plan != self.from_plan


class PlanEnforcement(models.Model):
    """What one change of effective plan sets off in the apps that hold resources (destinations, live
    sessions, recordings): created with the change, in its transaction, so it exists exactly once per
    change; carried out by a retried Celery task (billing.tasks.enforce_plan_change).

    PENDING -> NOTIFIED: the apps' enforcers ran and the in-app notice is written, in one transaction, so
    nothing is enforced twice. NOTIFIED -> DONE: the e-mail went out (or none was due). A mail server that
    refuses leaves it NOTIFIED, and the retry sends only the mail.
    """

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        NOTIFIED = "NOTIFIED", "Enforced, notice written"
        DONE = "DONE", "Done"

    TRANSITIONS = {State.PENDING: {State.NOTIFIED}, State.NOTIFIED: {State.DONE}, State.DONE: set()}

    change = models.OneToOneField(SubscriptionChange, on_delete=models.CASCADE, related_name="enforcement")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    subject = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    send_mail = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.change} for {self.user_id}: {self.state}"

    def transition_to(self, state: str, **fields: object) -> None:
        """Move this (locked) row to ``state``; illegal moves raise ValueError."""
        if state not in self.TRANSITIONS[self.State(self.state)]:
            raise ValueError(f"PlanEnforcement {self.pk}: {self.state} -> {state} is not allowed")
        self.state = state
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=["state", *fields, "updated_at"])


def plan_limits_for(user: models.Model) -> PlanLimits:
    """The limits that apply to ``user`` right now; users without a subscription row are on FREE."""
    subscription = Subscription.objects.filter(user=user).only("plan", "status").first()
    return subscription.limits if subscription else limits_of(PlanName.FREE)
