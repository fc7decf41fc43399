"""``manage.py demo``: print every endpoint's plan, then time each endpoint both ways.

Each list endpoint is called in-process, unoptimized (``autoprefetch=False``) and
optimized, at the seeded size and at ten times that size (the extra rows are added in
a transaction that is rolled back). The command fails when an optimized response differs
from the unoptimized one, or when an optimized query count depends on the number of rows.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from demo.endpoints import ENDPOINTS, Endpoint, fetch
from demo.seeding import seed
from drf_autoprefetch import plan_for

ROW = "{:<14} {:>6}  {:>7} {:>9}  {:>8} {:>9}  {:>8}  {}"
GROUPS = "{:<14} {:>6}  {:-^17}  {:-^18}".format("", "", " queries ", " median ms ")
HEADER = ROW.format(
    "endpoint", "rows", "naive", "optimized", "naive", "optimized", "speed-up", "same JSON"
)


@dataclass(frozen=True)
class Run:
    """What one way of calling an endpoint cost, and what it answered."""

    queries: int
    median_ms: float
    body: bytes


@dataclass(frozen=True)
class Comparison:
    """One endpoint at one size, called unoptimized and optimized."""

    endpoint: str
    rows: int
    naive: Run
    optimized: Run

    @property
    def identical(self) -> bool:
        return self.naive.body == self.optimized.body

    def line(self) -> str:
        speedup = self.naive.median_ms / max(self.optimized.median_ms, 1e-9)
        return ROW.format(
            self.endpoint,
            self.rows,
            self.naive.queries,
            self.optimized.queries,
            f"{self.naive.median_ms:.1f}",
            f"{self.optimized.median_ms:.1f}",
            f"{speedup:.1f}x",
            "yes" if self.identical else "NO",
        )


class QueryCounter:
    """Counts the queries run on a connection, however many (the debug log keeps 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def measure(endpoint: Endpoint, rows: int, *, optimized: bool, runs: int) -> Run:
    """Call the list view ``runs`` times with one page of ``rows`` rows."""
    params = {"page_size": rows}
    timings = []
    for _ in range(runs):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            body = fetch(endpoint, optimized=optimized, params=params)
            timings.append(time.perf_counter() - started)
    return Run(counter.count, statistics.median(timings) * 1000, body)


def compare_all(rows: int, runs: int) -> list[Comparison]:
    return [
        Comparison(
            endpoint.name,
            rows,
            naive=measure(endpoint, rows, optimized=False, runs=runs),
            optimized=measure(endpoint, rows, optimized=True, runs=runs),
        )
        for endpoint in ENDPOINTS
    ]


def problems(small: list[Comparison], large: list[Comparison]) -> list[str]:
    """What went wrong: differing bodies, or optimized counts that grow with the rows."""
    found = [
        f"{c.endpoint} at {c.rows} rows: the optimized JSON differs from the unoptimized JSON."
        for c in small + large
        if not c.identical
    ]
    found.extend(
        f"{a.endpoint}: the optimized view ran {a.optimized.queries} queries for {a.rows} rows "
        f"but {b.optimized.queries} for {b.rows} rows."
        for a, b in zip(small, large, strict=True)
        if a.optimized.queries != b.optimized.queries
    )
    return found


class Command(BaseCommand):
    help = (
        "Print the prefetch plan of every endpoint and a table of query counts and timings, "
        "unoptimized vs optimized, at SIZE rows and at ten times that. Run `seed` first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size", type=int, default=20, help="Rows the database was seeded with (default: 20)."
        )
        parser.add_argument(
            "--runs", type=int, default=5, help="Calls per measurement; the median is shown."
        )

    def handle(self, *args: Any, size: int, runs: int, **options: Any) -> None:
        if size < 1 or runs < 1:
            raise CommandError(f"--size and --runs must be at least 1, got {size!r} and {runs!r}.")
        self.check_seeded(size)
        self.print_plans()
        small = compare_all(size, runs)
        with transaction.atomic():
            seed(9 * size, start=size)
            large = compare_all(10 * size, runs)
            transaction.set_rollback(True)
        self.print_table(small, large)
        found = problems(small, large)
        if found:
            raise CommandError("\n".join(found))
        self.stdout.write(
            "Every optimized response equals the unoptimized one, "
            "and no optimized query count grows with the number of rows."
        )

    def check_seeded(self, size: int) -> None:
        for endpoint in ENDPOINTS:
            count = endpoint.model.objects.count()
            if count != size:
                raise CommandError(
                    f"The {endpoint.name!r} endpoint has {count} rows, not {size}: "
                    f"run `manage.py seed --size {size}` first."
                )

    def print_plans(self) -> None:
        self.stdout.write("Plans\n=====\n\n")
        for endpoint in ENDPOINTS:
            serializer = endpoint.serializer_class
            title = f"{endpoint.name}/: {endpoint.viewset.__name__} -> {serializer.__name__}"
            self.stdout.write(f"{title}\n{'-' * len(title)}")
            self.stdout.write(str(plan_for(serializer)).rstrip("\n"))
            self.stdout.write("")

    def print_table(self, small: list[Comparison], large: list[Comparison]) -> None:
        self.stdout.write("Unoptimized vs optimized (list views, one page of every row)")
        self.stdout.write("=" * len(HEADER))
        self.stdout.write(GROUPS.rstrip())
        self.stdout.write(HEADER)
        self.stdout.write(ROW.format(*("-" * n for n in (14, 6, 7, 9, 8, 9, 8, 9))))
        for a, b in zip(small, large, strict=True):
            self.stdout.write(a.line())
            self.stdout.write(b.line())
        self.stdout.write("")
