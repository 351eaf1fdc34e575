"""Work on a creator's destinations that spans models or follows from their plan."""

from __future__ import annotations

from django.db import transaction

from billing.models import plan_limits_for
from platforms.models import PlatformConnection


def apply_plan_limits(user_id: int) -> list[int]:
    """Switch off the destinations a (new, lower) plan no longer covers; never delete them.

    Keeps the oldest switched-on destinations up to the plan's maxPlatforms; the rest become
    INACTIVE_PLAN and are left out of the next stream. Destinations switched off for the plan
    earlier come back to CONNECTED (still switched off) when the plan covers them again.
    Returns the ids switched off.
    """
    from accounts.models import User

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        limit = plan_limits_for(user).max_platforms
        active = list(
            PlatformConnection.objects.select_for_update()
            .filter(user=user, include_in_stream=True)
            .order_by("connected_at", "pk")
        )
        over = active[limit:] if limit is not None else []
        for connection in over:
            connection.include_in_stream = False
            connection.state = PlatformConnection.State.INACTIVE_PLAN
            connection.save(update_fields=["include_in_stream", "state", "updated_at"])
        if limit is None or len(active) < limit:
            PlatformConnection.objects.filter(user=user, state=PlatformConnection.State.INACTIVE_PLAN).update(
                state=PlatformConnection.State.CONNECTED
            )
        return [c.pk for c in over]
