from django import forms
from django.contrib import admin

from platforms.actions import room_for_one_more
from platforms.models import PlatformConnection


class PlatformConnectionAdminForm(forms.ModelForm):
    class Meta:
        model = PlatformConnection
        # Never the secrets (stream_key, access_token, refresh_token).
        fields = [
            "user",
            "kind",
            "name",
            "account_id",
            "rtmp_url",
            "token_expires_at",
            "platform_stream_id",
            "state",
            "include_in_stream",
        ]

    def clean(self) -> dict[str, object]:
        """Staff switch a destination on through the same plan check as its owner: a Free creator
        with two switched on would have every publish refused."""
        data = super().clean() or {}
        user = data.get("user")
        was_on = (
            bool(self.instance.pk)
            and PlatformConnection.objects.filter(pk=self.instance.pk, include_in_stream=True).exists()
        )
        if data.get("include_in_stream") and user is not None and not was_on:
            decision = room_for_one_more(user, except_pk=self.instance.pk)
            if not decision:
                raise forms.ValidationError({"include_in_stream": decision.message})
        return data


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    form = PlatformConnectionAdminForm
    list_display = ["user", "kind", "name", "state", "include_in_stream", "connected_at"]
    list_filter = ["kind", "state", "include_in_stream"]
    search_fields = ["user__email", "name", "account_id"]
    raw_id_fields = ["user"]
    # Secrets never reach the admin: not as fields, not as read-only values.
    exclude = ["stream_key", "access_token", "refresh_token"]
    readonly_fields = ["masked_key", "connected_at", "updated_at"]
