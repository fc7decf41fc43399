"""``manage.py seed``: replace the sample data with a deterministic data set."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.seeding import counts, reset, seed


class Command(BaseCommand):
    help = "Delete the sample data and create SIZE rows per list endpoint, the same every run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size", type=int, default=20, help="Rows per list endpoint (default: 20)."
        )

    def handle(self, *args: Any, size: int, **options: Any) -> None:
        if size < 1:
            raise CommandError(f"--size must be at least 1, got {size!r}.")
        started = time.perf_counter()
        reset()
        seed(size)
        elapsed = time.perf_counter() - started
        rows = ", ".join(f"{count} {label}" for label, count in counts().items())
        self.stdout.write(f"Seeded in {elapsed:.2f} s: {rows}.")
