"""The benchmark worker: prepares one database, or measures one leg on one database.

    python -m benchmarks.worker prepare SPEC.json OUT.json
    python -m benchmarks.worker run SPEC.json OUT.json

The runner starts it with the leg's interpreter, the repository root as the working
directory and on ``PYTHONPATH``, and the database in ``BENCH_DB_*`` (see
``benchmarks.settings``). It writes its results as JSON to ``OUT.json``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["main"]


# --------------------------------------------------------------------------- wrappers


class QueryCounter:
    """An ``execute_wrapper`` that counts the queries run through it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class RoundTrip:
    """An ``execute_wrapper`` that busy-waits ``seconds`` before each query.

    It stands for the network between the application and the database. A busy wait
    holds its length to within a microsecond, where ``time.sleep`` overshoots by tens.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        deadline = time.perf_counter() + self.seconds
        while time.perf_counter() < deadline:
            pass
        return execute(sql, params, many, context)


# --------------------------------------------------------------------------- measuring


@dataclass
class Cell:
    """One strategy on one scenario, database and number of root rows."""

    leg: str
    database: str
    scenario: str
    strategy: str
    rows: int
    queries: int | None = None
    median_ms: float | None = None
    min_ms: float | None = None
    runs: int = 0
    peak_bytes: int | None = None
    digest: str | None = None
    body_bytes: int | None = None
    results: int | None = None
    #: The request took so long that its warm-up is the one timed run.
    warm_up_timed: bool = False
    error: str | None = None
    skipped: str | None = None


@dataclass
class Settings:
    """How long to measure: see ``python -m benchmarks --help``."""

    budget: float = 0.3
    min_runs: int = 3
    max_runs: int = 15
    long_run: float = 2.0
    unoptimized_max_rows: int = 1000


@dataclass
class _Subject:
    """A cell being measured, with what measuring it needs."""

    cell: Cell
    call: Callable[[], bytes]
    wrappers: list[Any]
    memory: bool = True
    timings: list[float] = field(default_factory=list)
    runs: int = 0


def _request_maker(name: str, rows: int) -> Callable[[], Any]:
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()

    def make() -> Any:
        return factory.get(f"/{name}/", {"page_size": rows}, HTTP_ACCEPT="application/json")

    return make


def _caller(viewset: type, name: str, rows: int) -> Callable[[], bytes]:
    view = viewset.as_view({"get": "list"})
    make_request = _request_maker(name, rows)

    def call() -> bytes:
        response = view(make_request())
        response.render()
        if response.status_code != 200:
            raise RuntimeError(f"GET /{name}/ answered {response.status_code}")
        return bytes(response.content)

    return call


def _wrapped(subject: _Subject, extra: list[Any]) -> Callable[[], bytes]:
    from django.db import connection

    def call() -> bytes:
        wrappers = [*subject.wrappers, *extra]
        return _nest(connection, wrappers, subject.call)

    return call


def _nest(connection: Any, wrappers: list[Any], call: Callable[[], bytes]) -> bytes:
    if not wrappers:
        return call()
    with connection.execute_wrapper(wrappers[0]):
        return _nest(connection, wrappers[1:], call)


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300]


def _warm_up(subject: _Subject) -> float:
    """One untimed call: query count, digest; returns how long it took."""
    counter = QueryCounter()
    started = time.perf_counter()
    body = _wrapped(subject, [counter])()
    elapsed = time.perf_counter() - started
    cell = subject.cell
    cell.queries = counter.count
    cell.digest = hashlib.sha256(body).hexdigest()
    cell.body_bytes = len(body)
    cell.results = len(json.loads(body)["results"])
    return elapsed


def _peak_memory(subject: _Subject) -> int:
    call = _wrapped(subject, [])
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _runs_for(elapsed: float, settings: Settings) -> int:
    wanted = math.ceil(settings.budget / max(elapsed, 1e-6))
    return max(settings.min_runs, min(settings.max_runs, wanted))


def _measure_group(subjects: list[_Subject], settings: Settings) -> None:
    """Warm up each subject, then time them round-robin so drift hits all alike.

    Objects alive before the timed runs are frozen out of the collector's reach, so the
    collection before each run costs only the garbage of the previous one.
    """
    live = []
    for subject in subjects:
        try:
            elapsed = _warm_up(subject)
            long_run = elapsed >= settings.long_run
            if subject.memory and not long_run:  # tracemalloc makes it 3 to 6 times slower
                subject.cell.peak_bytes = _peak_memory(subject)
        except Exception as exc:  # a peer that breaks is reported, not hidden
            subject.cell.error = _error(exc)
            continue
        if long_run:
            subject.timings.append(elapsed)
            subject.cell.warm_up_timed = True
            subject.runs = 1
        else:
            subject.runs = _runs_for(elapsed, settings)
        live.append(subject)
    gc.collect()
    gc.freeze()
    for round_number in range(max((s.runs for s in live), default=0)):
        shift = round_number % max(len(live), 1)
        for subject in live[shift:] + live[:shift]:
            if len(subject.timings) >= subject.runs or subject.cell.error:
                continue
            call = _wrapped(subject, [])
            gc.collect()
            started = time.perf_counter()
            try:
                call()
            except Exception as exc:
                subject.cell.error = _error(exc)
                continue
            subject.timings.append(time.perf_counter() - started)
    for subject in live:
        _summarize(subject)


def _summarize(subject: _Subject) -> None:
    import statistics

    if not subject.timings:
        return
    cell = subject.cell
    cell.runs = len(subject.timings)
    cell.median_ms = statistics.median(subject.timings) * 1000
    cell.min_ms = min(subject.timings) * 1000


def measure(spec: dict[str, Any]) -> list[Cell]:
    """Every (delay, scenario) of the spec, its strategies measured round-robin.

    Peak memory is measured in the first mode only (the delay allocates nothing) and
    only for the strategies in ``spec["memory"]``; later modes repeat it.
    """
    from benchmarks.scenarios import SCENARIOS

    settings = Settings(**spec.get("settings", {}))
    cells: list[Cell] = []
    scenarios = [s for s in SCENARIOS if s.name in spec["scenarios"]]
    peaks: dict[tuple[str, str], int | None] = {}
    for index, (database, delay_ms) in enumerate(spec["modes"]):
        wrappers = [RoundTrip(delay_ms / 1000)] if delay_ms else []
        for scenario in scenarios:
            subjects = _subjects(spec, database, scenario, wrappers, settings, cells)
            for subject in subjects:
                subject.memory = subject.memory and index == 0
            _measure_group(subjects, settings)
            for subject in subjects:
                key = (scenario.name, subject.cell.strategy)
                if index == 0:
                    peaks[key] = subject.cell.peak_bytes
                else:
                    subject.cell.peak_bytes = peaks.get(key)
            _progress(spec, database, scenario.name, subjects)
    return cells


def _subjects(
    spec: dict[str, Any],
    database: str,
    scenario: Any,
    wrappers: list[Any],
    settings: Settings,
    cells: list[Cell],
) -> list[_Subject]:
    """The cells of one scenario, appended to ``cells``; the measurable ones returned."""
    from benchmarks.strategies import viewset_for

    rows = spec["rows"]
    memory = spec.get("memory", spec["strategies"])
    subjects = []
    for strategy in spec["strategies"]:
        cell = Cell(spec["leg"], database, scenario.name, strategy, rows)
        cells.append(cell)
        if strategy == "unoptimized" and rows > settings.unoptimized_max_rows:
            cell.skipped = f"more than {settings.unoptimized_max_rows} rows"
            continue
        try:
            call = _caller(viewset_for(strategy, scenario), scenario.name, rows)
        except Exception as exc:
            cell.error = _error(exc)
            continue
        subjects.append(_Subject(cell, call, wrappers, memory=strategy in memory))
    return subjects


def _progress(spec: dict[str, Any], database: str, scenario: str, subjects: list[_Subject]) -> None:
    parts = []
    for subject in subjects:
        cell = subject.cell
        if cell.error:
            parts.append(f"{cell.strategy}=error")
        elif cell.median_ms is not None:
            parts.append(f"{cell.strategy}={cell.queries}q/{cell.median_ms:.1f}ms")
    print(
        f"  {spec['leg']:<20} {database:<15} {scenario:<8} {spec['rows']:>6} rows  "
        + "  ".join(parts),
        file=sys.stderr,
        flush=True,
    )


# --------------------------------------------------------------------------- environment


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment(packages: list[str]) -> dict[str, Any]:
    import django
    import rest_framework

    found = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "djangorestframework": rest_framework.VERSION,
    }
    for name in packages:
        found[name] = _version(name)
    return found


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


# --------------------------------------------------------------------------- preparing


def _create_postgresql_database(name: str) -> None:
    import psycopg

    if not name.startswith("dap_bench"):
        raise ValueError(f"Refusing to recreate {name!r}: benchmark databases start dap_bench.")
    dsn = {
        "host": os.environ.get("BENCH_DB_HOST", "127.0.0.1"),
        "port": os.environ.get("BENCH_DB_PORT", "5432"),
        "user": os.environ.get("BENCH_DB_USER", "postgres"),
        "password": os.environ.get("BENCH_DB_PASSWORD", ""),
        "dbname": "postgres",
    }
    with psycopg.connect(**dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Create the database, migrate it and seed ``spec["rows"]`` rows per endpoint."""
    engine, name = os.environ["BENCH_DB_ENGINE"], os.environ["BENCH_DB_NAME"]
    if engine == "postgresql":
        _create_postgresql_database(name)
    else:
        Path(name).unlink(missing_ok=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.seeding import seed as seed_benchmarks
    from demo.seeding import seed as seed_sample

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    seed_sample(spec["rows"])
    seed_benchmarks(spec["rows"])
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load. SQLite stays without statistics,
        # as Django leaves it (with them it joins the deep tree's members query badly).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"database": database_version(), "seconds": time.perf_counter() - started}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    result: dict[str, Any] = {
        "leg": spec["leg"],
        "environment": environment(spec.get("packages", [])),
        "database": database_version(),
    }
    result["cells"] = [asdict(cell) for cell in measure(spec)]
    if spec.get("micro"):
        from benchmarks.micro import micro_benchmarks

        result["micro"] = micro_benchmarks()
    if spec.get("fan_in"):
        from benchmarks.fanin import fan_in_sweep

        result["fan_in"] = fan_in_sweep()
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in ("prepare", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, spec_path, out_path = args
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    spec = json.loads(Path(spec_path).read_text())
    result = prepare(spec) if mode == "prepare" else run(spec)
    Path(out_path).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
