"""Work on a creator's destinations that spans models or follows from their plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.db import transaction

from accounts.models import User
from billing.models import plan_limits_for
from billing.plans import ALLOWED, Decision, PlanLimits, check_destination_count
from platforms.connect import PlatformAccount, revoke_quietly, streaming_setup
from platforms.models import PlatformConnection


@dataclass(frozen=True)
class PlanApplied:
    switched_off: list[int]
    switched_back_on: list[int]


def apply_plan_limits(user_id: int) -> PlanApplied:
    """Make the user's switched-on destinations fit the plan they hold now; never delete any.

    Over the plan's maxPlatforms, the newest switched-on destinations become INACTIVE_PLAN (switched off,
    left out of the next stream). Under it, destinations switched off for the plan earlier are switched
    back on, oldest first, up to the limit (an upgrade undoes what a downgrade did). Safe to run again:
    a second run finds nothing to do.
    """
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
        room = None if limit is None else max(0, limit - len(active))
        parked = PlatformConnection.objects.select_for_update().filter(
            user=user, state=PlatformConnection.State.INACTIVE_PLAN, include_in_stream=False
        )
        restored = list(parked.exclude(pk__in=[c.pk for c in over]).order_by("connected_at", "pk")[:room])
        for connection in restored:
            connection.include_in_stream = True
            connection.state = PlatformConnection.State.CONNECTED
            connection.save(update_fields=["include_in_stream", "state", "updated_at"])
        return PlanApplied([c.pk for c in over], [c.pk for c in restored])


def enforce_plan_on_destinations(user_id: int, limits: PlanLimits) -> list[str]:
    """billing's plan enforcer for destinations: what changed, in sentences for the creator's notice."""
    applied = apply_plan_limits(user_id)
    lines = []
    if applied.switched_off:
        lines.append(
            f"{len(applied.switched_off)} destination(s) over the plan's limit were switched off "
            "(not deleted)."
        )
    if applied.switched_back_on:
        lines.append(
            f"{len(applied.switched_back_on)} destination(s) switched off by a lower plan were switched "
            "back on."
        )
    return lines


@dataclass(frozen=True)
class Saved:
    """A destination saved; ``refused`` says why it was saved switched off (the plan), if it was."""

    connection: PlatformConnection
    refused: Decision | None = None


def room_for_one_more(user: Any, except_pk: int | None = None) -> Decision:
    """May one more destination of ``user`` (besides ``except_pk``) be switched on? Every path that
    switches one on asks this: the pages, the API, the studio's test destination, the admin."""
    on = PlatformConnection.objects.filter(user=user, include_in_stream=True).exclude(pk=except_pk).count()
    return check_destination_count(plan_limits_for(user), on + 1)


def _locked_user(user_id: int) -> Any:
    return User.objects.select_for_update().get(pk=user_id)


def connect_platform(user_id: int, kind: str, account: PlatformAccount) -> Saved:
    """Create or renew the connection of ``kind`` from a finished OAuth grant.

    Fetches what streaming needs first (Twitch's key and ingest, YouTube's reusable liveStream), so a
    platform refusal stores nothing. A new connection beyond the plan's limit is saved switched off.
    """
    setup = streaming_setup(kind, account)
    with transaction.atomic():
        user = _locked_user(user_id)
        existing = PlatformConnection.objects.select_for_update().filter(user=user, kind=kind).first()
        connection = existing or PlatformConnection(user=user, kind=kind, include_in_stream=False)
        connection.name = account.name[:120]
        connection.account_id = account.account_id
        connection.access_token = account.access_token
        connection.refresh_token = account.refresh_token or connection.refresh_token
        connection.token_expires_at = account.expires_at
        connection.rtmp_url, connection.stream_key = setup.rtmp_url, setup.stream_key
        connection.platform_stream_id = setup.platform_stream_id
        connection.state = PlatformConnection.State.CONNECTED
        refused = None
        if existing is None:
            decision = room_for_one_more(user)
            connection.include_in_stream = bool(decision)
            refused = None if decision else decision
        elif (
            connection.include_in_stream is False and existing.state == PlatformConnection.State.INACTIVE_PLAN
        ):
            connection.state = PlatformConnection.State.INACTIVE_PLAN
        connection.save()
    return Saved(connection, refused)


def add_custom_destination(user_id: int, name: str, rtmp_url: str, stream_key: str, include: bool) -> Saved:
    """Save a custom RTMP(S) server. Asked switched on beyond the plan, it is saved switched off."""
    with transaction.atomic():
        user = _locked_user(user_id)
        decision = room_for_one_more(user) if include else ALLOWED
        connection = PlatformConnection.objects.create(
            user=user,
            kind=PlatformConnection.Kind.CUSTOM,
            name=name,
            rtmp_url=rtmp_url,
            stream_key=stream_key,
            include_in_stream=include and bool(decision),
        )
    return Saved(connection, None if decision else decision)


def set_included(user_id: int, connection_id: int, include: bool) -> Decision:
    """Switch a destination into or out of the next stream; switching on is refused beyond the plan."""
    with transaction.atomic():
        user = _locked_user(user_id)
        connection = PlatformConnection.objects.select_for_update().get(pk=connection_id, user=user)
        if include and not connection.include_in_stream:
            decision = room_for_one_more(user, except_pk=connection.pk)
            if not decision:
                return decision
        connection.include_in_stream = include
        if connection.state == PlatformConnection.State.INACTIVE_PLAN and include:
            connection.state = PlatformConnection.State.CONNECTED
        connection.save(update_fields=["include_in_stream", "state", "updated_at"])
    return ALLOWED


def disconnect(user_id: int, connection_id: int) -> None:
    """Remove a destination: the row (and with it tokens and key) and its allauth account, in one
    transaction. The platform is asked to revoke our token only after that transaction commits."""
    with transaction.atomic():
        connection = PlatformConnection.objects.select_for_update().get(pk=connection_id, user_id=user_id)
        kind, token = connection.kind, connection.refresh_token or connection.access_token
        account_id = connection.account_id
        provider = connection.provider_id
        connection.delete()
        if provider:
            SocialAccount.objects.filter(user_id=user_id, provider=provider).delete()
        if token:
            transaction.on_commit(lambda: revoke_quietly(kind, token, account_id))
