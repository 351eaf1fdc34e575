"""Work on a creator's destinations that spans models or follows from their plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.db import transaction

from accounts.models import User
from billing.models import plan_limits_for
from billing.plans import ALLOWED, Decision, check_destination_count
from platforms.connect import PlatformAccount, revoke_quietly, streaming_setup
from platforms.models import PlatformConnection


def apply_plan_limits(user_id: int) -> list[int]:
    """Switch off the destinations a (new, lower) plan no longer covers; never delete them.

    Keeps the oldest switched-on destinations up to the plan's maxPlatforms; the rest become
    INACTIVE_PLAN and are left out of the next stream. Destinations switched off for the plan
    earlier come back to CONNECTED (still switched off) when the plan covers them again.
    Returns the ids switched off.
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
        if limit is None or len(active) < limit:
            PlatformConnection.objects.filter(user=user, state=PlatformConnection.State.INACTIVE_PLAN).update(
                state=PlatformConnection.State.CONNECTED
            )
        return [c.pk for c in over]


@dataclass(frozen=True)
class Saved:
    """A destination saved; ``refused`` says why it was saved switched off (the plan), if it was."""

    connection: PlatformConnection
    refused: Decision | None = None


def _room_for_one_more(user: Any, except_pk: int | None = None) -> Decision:
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
            decision = _room_for_one_more(user)
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
        decision = _room_for_one_more(user) if include else ALLOWED
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
            decision = _room_for_one_more(user, except_pk=connection.pk)
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
