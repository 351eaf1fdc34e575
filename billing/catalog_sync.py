"""Make Stripe's products and prices match the plan table, then pull them into dj-stripe.

Safe to re-run: products have fixed ids (``prism_pro``), prices are found by lookup key, and a price
whose amount changed is replaced by a new one that takes over the lookup key (Stripe prices are
immutable) while the old one is archived, so existing subscribers keep what they signed up for.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import stripe
from djstripe.models import Price, Product
from djstripe.settings import djstripe_settings

from billing.catalog import CURRENCY, PLAN_METADATA_KEY, CatalogPrice, catalog_prices, paid_plans
from billing.plans import PlanLimits


def product_id(plan: PlanLimits) -> str:
    return f"prism_{plan.name.lower()}"


def _sync_product(plan: PlanLimits, key: str, counts: Counter[str]) -> Any:
    wanted = {"name": f"Prism {plan.title}", "metadata": {PLAN_METADATA_KEY: str(plan.name)}}
    try:
        product = stripe.Product.retrieve(product_id(plan), api_key=key)
    except stripe.InvalidRequestError as error:
        if error.http_status != 404:
            raise
        counts["products created"] += 1
        return stripe.Product.create(id=product_id(plan), api_key=key, **wanted)
    if (
        product.name != wanted["name"]
        or dict(product.metadata or {}) != wanted["metadata"]
        or not product.active
    ):
        counts["products updated"] += 1
        return stripe.Product.modify(product.id, api_key=key, active=True, **wanted)
    counts["products unchanged"] += 1
    return product


def _sync_price(entry: CatalogPrice, product: Any, key: str, counts: Counter[str]) -> Any:
    found = stripe.Price.list(lookup_keys=[entry.lookup_key], limit=1, api_key=key).data
    current = found[0] if found else None
    if (
        current is not None
        and current.active
        and current.unit_amount == entry.unit_amount
        and current.currency == CURRENCY
        and current.product == product.id
        and (current.recurring or {}).get("interval") == entry.interval
    ):
        counts["prices unchanged"] += 1
        return current
    price = stripe.Price.create(
        api_key=key,
        product=product.id,
        unit_amount=entry.unit_amount,
        currency=CURRENCY,
        recurring={"interval": str(entry.interval)},
        lookup_key=entry.lookup_key,
        transfer_lookup_key=True,
        nickname=f"{entry.plan.title()} {entry.interval}ly",
        metadata={PLAN_METADATA_KEY: str(entry.plan)},
    )
    if current is not None:
        stripe.Price.modify(current.id, active=False, api_key=key)
        counts["prices replaced"] += 1
    else:
        counts["prices created"] += 1
    return price


def sync_catalog() -> Counter[str]:
    """Create or update every paid plan's product and prices in Stripe and in dj-stripe's tables."""
    key = djstripe_settings.STRIPE_SECRET_KEY
    counts: Counter[str] = Counter()
    for plan in paid_plans():
        product = _sync_product(plan, key, counts)
        Product.sync_from_stripe_data(product, api_key=key)
        for entry in catalog_prices(plan):
            price = _sync_price(entry, product, key, counts)
            Price.sync_from_stripe_data(stripe.Price.retrieve(price.id, api_key=key), api_key=key)
    return counts
