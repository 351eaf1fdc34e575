"""Invoice amounts are shown exactly, in the currency's own minor unit."""

from __future__ import annotations

import pytest

from billing.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1900, "usd", "19.00 USD"),
        (1999, "eur", "19.99 EUR"),
        (5, "usd", "0.05 USD"),
        (-633, "usd", "-6.33 USD"),
        (0, "gbp", "0.00 GBP"),
        (500, "jpy", "500 JPY"),
        (4900000, "usd", "49000.00 USD"),
    ],
)
def test_amounts_are_exact_in_the_currencys_minor_unit(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown
