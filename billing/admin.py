from django.contrib import admin

from billing.models import Subscription, SubscriptionChange


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "status", "current_period_end", "cancel_at_period_end", "updated_at"]
    list_filter = ["plan", "status", "cancel_at_period_end"]
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
