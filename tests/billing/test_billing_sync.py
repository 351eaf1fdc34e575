from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from djstripe.models import Price

from tests.fakes.stripe_api import FakeStripe


def run() -> str:
    out = io.StringIO()
    call_command("billing_sync", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.mark.django_db
def test_billing_sync_creates_the_catalog_once_and_a_rerun_changes_nothing(fake_stripe: FakeStripe) -> None:
    assert run() == (
        "billing_sync: 2 products created, 0 products updated, 0 products unchanged, "
        "4 prices created, 0 prices replaced, 0 prices unchanged"
    )
    assert run().endswith(
        "0 products created, 0 products updated, 2 products unchanged, "
        "0 prices created, 0 prices replaced, 4 prices unchanged"
    )
    assert len(fake_stripe.all_of("price")) == 4
    synced = {p.stripe_data["lookup_key"]: p.unit_amount for p in Price.objects.all()}
    assert synced == {
        "prism_pro_monthly": 1900,
        "prism_pro_yearly": 19000,
        "prism_business_monthly": 4900,
        "prism_business_yearly": 49000,
    }


@pytest.mark.django_db
def test_a_changed_price_is_replaced_and_the_old_one_archived(fake_stripe: FakeStripe) -> None:
    import stripe

    run()
    first = stripe.Price.list(lookup_keys=["prism_pro_monthly"]).data[0]
    # An earlier catalog charged 15.00 for Pro: Stripe's price under the lookup key has that amount.
    earlier = stripe.Price.create(
        product=first.product,
        unit_amount=1500,
        currency=first.currency,
        recurring={"interval": "month"},
        lookup_key="prism_pro_monthly",
        transfer_lookup_key=True,
        metadata=dict(first.metadata),
    )
    stripe.Price.modify(first.id, active=False)

    assert run().endswith("0 prices created, 1 prices replaced, 3 prices unchanged")
    current = stripe.Price.list(lookup_keys=["prism_pro_monthly"]).data[0]
    assert current.id not in (first.id, earlier.id)
    assert current.active
    assert current.unit_amount == 1900
    assert not stripe.Price.retrieve(earlier.id).active  # subscribers on it keep it; nobody new gets it
    assert Price.objects.get(id=current.id).unit_amount == 1900


@pytest.mark.django_db
def test_an_archived_price_is_replaced(fake_stripe: FakeStripe) -> None:
    import stripe

    run()
    old = stripe.Price.list(lookup_keys=["prism_pro_monthly"]).data[0]
    stripe.Price.modify(old.id, active=False)  # as if someone archived it in the dashboard
    assert "1 prices replaced" in run()
    new = stripe.Price.list(lookup_keys=["prism_pro_monthly"]).data[0]
    assert new.id != old.id
    assert new.active
    assert new.unit_amount == 1900
