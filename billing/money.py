"""Amounts as Stripe keeps them (integers in the currency's smallest unit), shown exactly. Pure."""

from __future__ import annotations

# Stripe's zero-decimal currencies: the integer is already whole units.
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof"}
    | {"xpf"}
)


def format_money(amount: int, currency: str) -> str:
    """Exact, never rounded: 1999 usd -> "19.99 USD", -633 usd -> "-6.33 USD", 500 jpy -> "500 JPY"."""
    code = currency.upper()
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount} {code}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d} {code}"
