from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from platforms.encryption import rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (stream keys, OAuth tokens) under the newest key of "
        "FIELD_ENCRYPTION_KEYS. Safe to run again. Afterwards the older keys can be dropped."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        rotated = rotate_all(batch_size=batch_size)
        for label, count in rotated.items():
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Rotated {sum(rotated.values())} row(s) under the newest key."))
