from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from streaming import actions
from streaming.models import DestinationStream, StreamEvent, StreamSession


class DestinationInline(admin.TabularInline):
    model = DestinationStream
    fields = (
        "label",
        "state",
        "desired",
        "error_message",
        "rendition",
        "attempts",
        "viewer_count",
        "lease_until",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(StreamSession)
class StreamSessionAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "node", "state", "desired", "started_at", "ended_at", "end_reason")
    list_filter = ("state", "node", "destinations__state")
    readonly_fields = [f.name for f in StreamSession._meta.fields]
    inlines = [DestinationInline]
    actions = ["stop_sessions"]

    @admin.action(description="Stop the selected live sessions")
    def stop_sessions(self, request: HttpRequest, queryset: QuerySet[StreamSession]) -> None:
        stopped = sum(actions.stop_session(pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Stopping {stopped} session(s).", messages.SUCCESS)


@admin.register(StreamEvent)
class StreamEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "session", "destination", "from_state", "to_state", "message")
    list_filter = ("to_state",)
    readonly_fields = [f.name for f in StreamEvent._meta.fields]
