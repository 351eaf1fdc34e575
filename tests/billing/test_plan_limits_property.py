"""Property 7: every action over the plan is refused with an upgrade prompt naming a plan that allows it;
every action within the plan is allowed. The oracle below reads the seed design's numbers directly."""

from __future__ import annotations

import json

from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.plans import (
    PLAN_LIMITS,
    PLANS_IN_ORDER,
    Decision,
    LimitCode,
    PlanName,
    check_destination_count,
    check_quality,
    check_storage,
    check_stream_duration,
)
from billing.prompts import flash_upgrade_prompt, upgrade_prompt_response
from core.quality import PRESET_NAMES

GB = 1024**3
# The seed design's PLAN_LIMITS, written out again so the test does not trust billing/plans.py.
SEED = {
    "FREE": {"platforms": 1, "quality": "720p", "minutes": 120, "gb": 1},
    "PRO": {"platforms": 3, "quality": "1080p", "minutes": None, "gb": 25},
    "BUSINESS": {"platforms": None, "quality": "1080p60", "minutes": None, "gb": 100},
}


def allows(plan: str, action: tuple) -> bool:
    kind, *args = action
    seed = SEED[plan]
    if kind == "destinations":
        return seed["platforms"] is None or args[0] <= seed["platforms"]
    if kind == "quality":
        return PRESET_NAMES.index(args[0]) <= PRESET_NAMES.index(seed["quality"])
    if kind == "duration":
        return seed["minutes"] is None or args[0] < seed["minutes"]
    return args[0] + args[1] <= seed["gb"] * GB


def decide(plan: str, action: tuple) -> Decision:
    kind, *args = action
    limits = PLAN_LIMITS[PlanName(plan)]
    checks = {
        "destinations": check_destination_count,
        "quality": check_quality,
        "duration": check_stream_duration,
        "storage": check_storage,
    }
    return checks[kind](limits, *args)


actions = st.one_of(
    st.tuples(st.just("destinations"), st.integers(0, 12)),
    st.tuples(st.just("quality"), st.sampled_from(PRESET_NAMES)),
    st.tuples(st.just("duration"), st.floats(0, 24 * 60, allow_nan=False)),
    st.tuples(st.just("storage"), st.integers(0, 120 * GB), st.integers(0, 30 * GB)),
)
CODES = {
    "destinations": LimitCode.DESTINATIONS,
    "quality": LimitCode.QUALITY,
    "duration": LimitCode.DURATION,
    "storage": LimitCode.STORAGE,
}


@settings(max_examples=300, deadline=None)
@given(plan=st.sampled_from([p.name for p in PLANS_IN_ORDER]), action=actions)
def test_over_limit_actions_are_refused_with_an_upgrade_prompt_and_the_rest_allowed(
    plan: str, action: tuple
) -> None:
    decision = decide(plan, action)
    assert bool(decision) == allows(plan, action)
    if decision:
        return
    assert decision.code == CODES[action[0]]
    higher = [p.name for p in PLANS_IN_ORDER][[p.name for p in PLANS_IN_ORDER].index(plan) + 1 :]
    allowing = [p for p in higher if allows(p, action)]
    assert decision.upgrade_to == (allowing[0] if allowing else None)
    if allowing:
        assert PLAN_LIMITS[PlanName(allowing[0])].title in decision.message

    response = upgrade_prompt_response(decision)
    body = json.loads(response.content)["error"]
    assert response.status_code == 402
    assert body["code"] == CODES[action[0]]
    assert body["upgrade_url"].endswith("/pricing/")
    assert body["upgrade_to"] == (str(allowing[0]) if allowing else None)

    request = RequestFactory().get("/destinations/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    flash_upgrade_prompt(request, decision)
    (message,) = list(get_messages(request))
    assert 'href="/pricing/"' in str(message)
    assert "upgrade" in message.tags
