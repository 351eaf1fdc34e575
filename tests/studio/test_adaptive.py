"""Property 6 against the pure selection rule (streaming.adaptive), over generated bandwidths and plans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.quality import LOWEST, PRESET_NAMES, preset_named
from streaming.adaptive import HOLD_SECONDS, AbrState, next_preset

bandwidths = st.floats(min_value=0, max_value=20_000, allow_nan=False)
plans = st.sampled_from(PRESET_NAMES)
limitations = st.sampled_from(["none", "bandwidth", "cpu", "other"])
samples = st.lists(st.tuples(bandwidths, limitations, st.floats(min_value=0.1, max_value=15)), max_size=40)


@given(bandwidths, plans)
def test_first_choice_is_the_highest_fitting_preset_within_the_plan(bandwidth: float, plan: str) -> None:
    decision = next_preset(AbrState(), bandwidth, "none", 0.0, plan)
    chosen = decision.preset
    assert chosen.rank <= preset_named(plan).rank
    if decision.too_slow:
        assert chosen == LOWEST
        assert bandwidth < LOWEST.min_bandwidth_kbps
        return
    assert chosen.min_bandwidth_kbps <= bandwidth  # property 6
    higher = [preset_named(n) for n in PRESET_NAMES[chosen.rank + 1 :]]
    if higher and chosen.rank < preset_named(plan).rank:
        assert higher[0].min_bandwidth_kbps > bandwidth  # nothing better within the plan would fit
    if decision.upgrade_hint:
        hinted = preset_named(decision.upgrade_hint)
        assert hinted.rank > preset_named(plan).rank
        assert hinted.min_bandwidth_kbps <= bandwidth
    else:
        assert all(
            preset_named(n).min_bandwidth_kbps > bandwidth
            for n in PRESET_NAMES[preset_named(plan).rank + 1 :]
        )


@given(plans, samples)
def test_a_sequence_never_exceeds_bandwidth_or_plan_and_never_flaps(plan: str, steps: list) -> None:
    state, now = AbrState(), 0.0
    last_change_at = 0.0
    for bandwidth, limitation, gap in steps:
        now += gap
        before = state.current
        decision = next_preset(state, bandwidth, limitation, now, plan)
        if before and limitation not in ("bandwidth", "cpu"):
            # An encoder that bandwidth does not hold back: the link carries the current preset.
            bandwidth = max(bandwidth, preset_named(before).min_bandwidth_kbps)
        state = decision.state
        assert decision.preset.name == state.current
        assert decision.preset.rank <= preset_named(plan).rank
        if not decision.too_slow:
            assert decision.preset.min_bandwidth_kbps <= bandwidth  # property 6, at every sample
        if before and decision.direction == "up":
            assert preset_named(state.current).rank > preset_named(before).rank
            assert now - last_change_at >= HOLD_SECONDS  # no upward step before the hold
            assert limitation != "cpu"
        if before and limitation == "cpu" and preset_named(before).rank > 0:
            assert preset_named(state.current).rank < preset_named(before).rank
        if before and state.current != before:
            assert decision.changed
            last_change_at = now


def test_steps_up_only_after_the_higher_preset_held() -> None:
    state = next_preset(AbrState(), 1600, "none", 0.0, "1080p").state
    assert state.current == "480p"
    waiting = next_preset(state, 6000, "none", 1.0, "1080p")
    assert waiting.preset.name == "480p"
    assert not waiting.changed
    broken = next_preset(waiting.state, 1600, "none", 5.0, "1080p")  # the higher rate did not hold
    assert broken.state.up_since is None
    again = next_preset(broken.state, 6000, "none", 6.0, "1080p")
    assert next_preset(again.state, 6000, "none", 6.0 + HOLD_SECONDS - 0.5, "1080p").preset.name == "480p"
    up = next_preset(again.state, 6000, "none", 6.0 + HOLD_SECONDS, "1080p")
    assert (up.preset.name, up.direction, up.changed) == ("1080p", "up", True)


def test_cpu_limitation_steps_down_even_with_bandwidth_and_too_slow_is_said() -> None:
    state = next_preset(AbrState(), 9000, "none", 0.0, "1080p60").state
    assert state.current == "1080p60"
    down = next_preset(state, 9000, "cpu", 1.0, "1080p60")
    assert (down.preset.name, down.direction) == ("1080p", "down")
    slow = next_preset(down.state, 300, "bandwidth", 2.0, "1080p60")
    assert slow.too_slow
    assert slow.preset == LOWEST
    assert slow.direction == "down"


def test_the_plan_cap_gives_an_upgrade_hint() -> None:
    decision = next_preset(AbrState(), 8000, "none", 0.0, "720p")
    assert (decision.preset.name, decision.upgrade_hint) == ("720p", "1080p60")


def test_a_low_estimate_counts_only_when_bandwidth_holds_the_encoder_back() -> None:
    state = next_preset(AbrState(), 3500, "none", 0.0, "1080p").state
    assert state.current == "720p"
    still = next_preset(state, 40, "none", 1.0, "1080p")  # a still picture: little is sent
    assert (still.preset.name, still.changed, still.too_slow) == ("720p", False, False)
    cut = next_preset(state, 1200, "bandwidth", 1.0, "1080p")
    assert (cut.preset.name, cut.direction) == ("360p", "down")
