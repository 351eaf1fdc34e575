import djstripe.admin  # noqa: F401  (registers dj-stripe's admins before we amend them below)
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from djstripe.admin.admin import StripeModelAdmin

from billing.models import PlanEnforcement, Subscription, SubscriptionChange


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "plan",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "other_live_subscriptions",
        "updated_at",
    ]
    list_filter = [
        "plan",
        "status",
        "cancel_at_period_end",
        ("other_live_subscriptions", admin.EmptyFieldListFilter),
    ]
    search_fields = ["user__email", "stripe_customer_id", "stripe_subscription_id"]
    raw_id_fields = ["user"]


@admin.register(SubscriptionChange)
class SubscriptionChangeAdmin(admin.ModelAdmin):
    list_display = [
        "subscription",
        "from_plan",
        "to_plan",
        "from_status",
        "to_status",
        "stripe_event_id",
        "created_at",
    ]
    list_filter = ["to_plan", "to_status"]
    search_fields = ["subscription__user__email", "stripe_event_id"]
    readonly_fields = [field for field in ("subscription", "stripe_event_id", "fields", "created_at")]


@admin.register(PlanEnforcement)
class PlanEnforcementAdmin(admin.ModelAdmin):
    list_display = ["user", "change", "state", "attempts", "last_error", "updated_at"]
    list_filter = ["state"]
    search_fields = ["user__email"]
    readonly_fields = ["change", "user", "subject", "message", "created_at", "updated_at"]


# dj-stripe's admin shows every property of a Stripe model as a read-only field; Account's
# ``default_api_key`` is the secret key itself. Staff pages must never show it: drop such fields from
# every dj-stripe admin (imported first so that its registrations exist here).
SECRET_FIELD_MARKERS = ("api_key", "secret")


class HidesSecrets:
    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return [name for name in fields if not any(mark in name for mark in SECRET_FIELD_MARKERS)]


def hide_secrets_in_djstripe_admin() -> None:
    for model, model_admin in list(admin.site._registry.items()):
        if model._meta.app_label != "djstripe" or not isinstance(model_admin, StripeModelAdmin):
            continue
        admin.site.unregister(model)
        admin_class = type(model_admin)
        admin.site.register(
            model, type(f"SecretHiding{admin_class.__name__}", (HidesSecrets, admin_class), {})
        )


hide_secrets_in_djstripe_admin()
