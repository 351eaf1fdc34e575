"""Whether this server can take payments at all, decided before any call to Stripe.

A self-hosted Prism may run without Stripe: every plan limit still applies (everyone is on Free) and
billing pages say billing is not available here. config/settings.py gives STRIPE_TEST_SECRET_KEY a
placeholder default (dj-stripe's checks want some key); the placeholder does not count as configured.
"""

from __future__ import annotations

from djstripe.settings import djstripe_settings

PLACEHOLDER_SECRET_KEY = "sk_test_prismPlaceholderKey000000000000"  # noqa: S105 (not a key)
NOT_AVAILABLE = "Billing is not available on this server."
WHAT_TO_SET = (
    "Billing is off: set STRIPE_TEST_SECRET_KEY (or STRIPE_LIVE_SECRET_KEY with STRIPE_LIVE_MODE=1), "
    "then run `manage.py billing_sync` and register a webhook endpoint (see README, Billing)."
)


def billing_configured() -> bool:
    """True when a real Stripe secret key is set for the mode we run in (test or live)."""
    key = djstripe_settings.STRIPE_SECRET_KEY or ""
    return key.startswith(("sk_", "rk_")) and key != PLACEHOLDER_SECRET_KEY
