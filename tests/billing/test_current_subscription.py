"""The one rule that picks a customer's current subscription, against exact cases. Pure."""

from __future__ import annotations

from billing.stripe_state import current_subscription


def sub(sub_id: str, status: str, created: int) -> dict:
    return {"id": sub_id, "status": status, "created": created}


def test_the_oldest_live_subscription_is_current_and_the_other_live_ones_are_named() -> None:
    chosen = current_subscription(
        [sub("new", "active", 300), sub("old", "past_due", 100), sub("gone", "canceled", 50)]
    )
    assert chosen.current["id"] == "old"
    assert chosen.others_live == ("new",)


def test_with_none_live_the_newest_settled_one_shows_how_it_ended() -> None:
    chosen = current_subscription(
        [sub("a", "canceled", 100), sub("b", "unpaid", 200), sub("pending", "incomplete", 300)]
    )
    assert (chosen.current["id"], chosen.others_live) == ("b", ())


def test_pending_subscriptions_alone_decide_nothing() -> None:
    assert current_subscription([sub("p", "incomplete", 1), sub("q", "paused", 2)]).current is None
    assert current_subscription([]).current is None


def test_the_order_stripe_lists_them_in_does_not_matter() -> None:
    subs = [sub("x", "active", 100), sub("y", "trialing", 100), sub("z", "active", 50)]
    assert {
        current_subscription(order).current["id"] for order in (subs, subs[::-1], subs[1:] + subs[:1])
    } == {"z"}


def test_of_two_made_in_the_same_second_the_incumbent_stays_current() -> None:
    # Stripe's `created` has whole seconds: Checkout and a second subscription can share one.
    twins = [sub("sub_a", "active", 100), sub("sub_b", "active", 100)]
    for incumbent, other in (("sub_a", "sub_b"), ("sub_b", "sub_a")):
        for listing in (twins, twins[::-1]):
            chosen = current_subscription(listing, incumbent=incumbent)
            assert (chosen.current["id"], chosen.others_live) == (incumbent, (other,))
