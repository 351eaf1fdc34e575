"""Prorations as Stripe computes them when a subscription's price changes mid-period. Pure: no state.

For each changed item, at ``proration_date`` t within the period [start, end):
- the unused time of the old price is credited: ``-round(old * (end - t) / (end - start))``;
- with the same billing interval the new price is charged for the same unused time and the period stays;
- with another interval (monthly <-> yearly) the billing cycle restarts at t: the new price is charged in
  full for [t, t + its interval) (Stripe resets the anchor when the interval changes).
A negative total is not paid out: Stripe keeps it as customer credit and the invoice is due 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes import stripe_objects as build
from tests.fakes.stripe_wire import JsonDict


@dataclass(frozen=True)
class ProrationLine:
    item_id: str
    price_id: str
    description: str
    amount: int
    period: tuple[int, int]
    proration: bool


@dataclass(frozen=True)
class PriceChange:
    item: JsonDict
    old_price: JsonDict
    new_price: JsonDict


def prorate(changes: list[PriceChange], at: int) -> tuple[list[ProrationLine], tuple[int, int] | None]:
    """The lines ``changes`` bill at time ``at``, and the new period when the billing cycle restarts."""
    lines: list[ProrationLine] = []
    new_period = None
    for change in changes:
        start, end = change.item["current_period_start"], change.item["current_period_end"]
        at = min(max(at, start), end)
        unused = (end - at) / (end - start) if end > start else 0.0
        quantity = change.item["quantity"]
        old, new = change.old_price, change.new_price
        lines.append(
            ProrationLine(
                change.item["id"],
                old["id"],
                f"Unused time on {quantity} x {old['nickname'] or old['product']}",
                -round(old["unit_amount"] * quantity * unused),
                (at, end),
                True,
            )
        )
        if old["recurring"]["interval"] == new["recurring"]["interval"]:
            charge, period = round(new["unit_amount"] * quantity * unused), (at, end)
        else:
            recurring = new["recurring"]
            period = (at, build.add_interval(at, recurring["interval"], recurring["interval_count"]))
            charge, new_period = new["unit_amount"] * quantity, period
        lines.append(
            ProrationLine(
                change.item["id"],
                new["id"],
                f"Remaining time on {quantity} x {new['nickname'] or new['product']}",
                charge,
                period,
                True,
            )
        )
    return lines, new_period


def amount_due(lines: list[ProrationLine]) -> int:
    return max(0, sum(line.amount for line in lines))
