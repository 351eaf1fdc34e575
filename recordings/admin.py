from django.contrib import admin

from recordings.models import Recording, RecordingPreference


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "session", "state", "bytes", "duration", "created_at")
    list_filter = ("state",)
    search_fields = ("user__email",)
    readonly_fields = ("lease_owner", "lease_until", "lease_token", "heartbeat_at", "process_id")


@admin.register(RecordingPreference)
class RecordingPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "enabled", "updated_at")
    list_filter = ("enabled",)
