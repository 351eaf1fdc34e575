from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.catalog_sync import sync_catalog


class Command(BaseCommand):
    help = (
        "Create or update Prism's products and prices in Stripe from the plan table (billing/plans.py) "
        "and pull them into dj-stripe. Safe to re-run."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        import stripe

        try:
            counts = sync_catalog()
        except stripe.StripeError as error:
            raise CommandError(
                f"Stripe refused: {type(error).__name__}: {error.user_message or ''}"
            ) from error
        names = (
            "products created",
            "products updated",
            "products unchanged",
            "prices created",
            "prices replaced",
            "prices unchanged",
        )
        self.stdout.write("billing_sync: " + ", ".join(f"{counts[name]} {name}" for name in names))
