"""Property 7, storage, for recordings: starting or continuing a recording over the plan's storage is
refused with a prompt naming the first plan that would allow it; within it, allowed. The oracle reads
the seed design's numbers (FREE 1 GB, PRO 25 GB, BUSINESS 100 GB) directly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.plans import LimitCode, PlanName, limits_of
from recordings.quota import may_keep_recording, may_start_recording

GB = 1024**3
SEED_GB = {"FREE": 1, "PRO": 25, "BUSINESS": 100}
TITLES = {"FREE": "Free", "PRO": "Pro", "BUSINESS": "Business"}
plans = st.sampled_from(list(SEED_GB))
sizes = st.one_of(st.integers(0, 120 * GB), st.sampled_from([GB - 1, GB, GB + 1, 25 * GB, 100 * GB]))


def first_plan_with_room(plan: str, total: int) -> str | None:
    order = list(SEED_GB)
    return next((p for p in order[order.index(plan) + 1 :] if total <= SEED_GB[p] * GB), None)


@settings(max_examples=400, deadline=None)
@given(plan=plans, used=sizes, written=st.integers(0, 30 * GB))
def test_a_recording_goes_on_iff_it_fits_and_a_refusal_names_the_plan_that_fits(
    plan: str, used: int, written: int
) -> None:
    decision = may_keep_recording(limits_of(plan), used, written)
    fits = used + written <= SEED_GB[plan] * GB
    assert bool(decision) is fits
    if not fits:
        assert decision.code == LimitCode.STORAGE
        assert f"{TITLES[plan]} plan stores up to {SEED_GB[plan]} GB" in decision.message
        better = first_plan_with_room(plan, used + written)
        assert decision.upgrade_to == (PlanName(better) if better else None)
        if better:
            assert f"Upgrade to {TITLES[better]}" in decision.message
        else:
            assert "Upgrade" not in decision.message


@settings(max_examples=400, deadline=None)
@given(plan=plans, used=sizes)
def test_a_recording_starts_iff_the_user_is_under_the_quota(plan: str, used: int) -> None:
    decision = may_start_recording(limits_of(plan), used)
    assert bool(decision) is (used < SEED_GB[plan] * GB)
    if not decision:
        better = first_plan_with_room(plan, used + 1)
        assert decision.upgrade_to == (PlanName(better) if better else None)
