"""How the plan table appears in Stripe: one product per paid plan, one price per billing interval.

Pure data and functions: billing_sync writes these lookup keys and metadata; webhooks read them back to
learn which plan a Stripe price stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from billing.plans import PLANS_IN_ORDER, PlanLimits, PlanName

CURRENCY = "usd"
PLAN_METADATA_KEY = "prism_plan"
USER_METADATA_KEY = "prism_user_id"


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class CatalogPrice:
    plan: PlanName
    interval: Interval
    unit_amount: int

    @property
    def lookup_key(self) -> str:
        return lookup_key(self.plan, self.interval)


def lookup_key(plan: PlanName | str, interval: Interval | str) -> str:
    return f"prism_{PlanName(plan).lower()}_{Interval(interval)}ly"


def product_metadata(plan: PlanLimits) -> dict[str, str]:
    return {PLAN_METADATA_KEY: str(plan.name)}


def paid_plans() -> tuple[PlanLimits, ...]:
    return tuple(plan for plan in PLANS_IN_ORDER if plan.is_paid)


def catalog_prices(plan: PlanLimits) -> tuple[CatalogPrice, ...]:
    return (
        CatalogPrice(plan.name, Interval.MONTH, plan.monthly_price_cents),
        CatalogPrice(plan.name, Interval.YEAR, plan.yearly_price_cents),
    )


def plan_of_price(price: dict) -> PlanName | None:
    """The plan a Stripe price (as the API renders it) stands for: its metadata, else its lookup key."""
    raw = (price.get("metadata") or {}).get(PLAN_METADATA_KEY)
    if raw in PlanName.__members__:
        return PlanName(raw)
    for plan in paid_plans():
        for entry in catalog_prices(plan):
            if price.get("lookup_key") == entry.lookup_key:
                return plan.name
    return None
