from django.contrib import admin

from platforms.models import PlatformConnection


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "name", "state", "include_in_stream", "connected_at"]
    list_filter = ["kind", "state", "include_in_stream"]
    search_fields = ["user__email", "name", "account_id"]
    raw_id_fields = ["user"]
    # Secrets never reach the admin: not as fields, not as read-only values.
    exclude = ["stream_key", "access_token", "refresh_token"]
    readonly_fields = ["masked_key", "connected_at", "updated_at"]
