"""The column-pruning set: what leaving columns out saves, and what it costs.

Four tables, each listed by a serializer that reads three or four narrow columns:
one with a 4 KB text it never reads, one with a JSON document, one with four
timestamps, and one of narrow numbers only (two never read). Each is rendered at each
size with every column loaded, with a hand-written ``.only()`` of the columns read, and
with drf_autoprefetch's plan applied as the view mixin's list action applies it (its
cost model prunes the first three and not the fourth).
Times are medians of rendering the whole list, measured round-robin in one process.
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import serializers

__all__ = ["COLUMN_SET", "column_benchmarks"]

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    model: str
    fields: tuple[str, ...]
    row: Callable[[int], dict[str, Any]]


def _note(n: int) -> dict[str, Any]:
    return {"title": f"Note {n}", "status": "open", "priority": n % 5, "body": "x" * 4096}


def _payload(n: int) -> dict[str, Any]:
    data = {f"key{i}": {"value": i * n, "label": f"item {i}"} for i in range(24)}
    return {"title": f"Payload {n}", "status": "open", "priority": n % 5, "data": data}


def _event(n: int) -> dict[str, Any]:
    at = EPOCH + dt.timedelta(minutes=n)
    times = dict.fromkeys(("created", "updated", "started", "ended"), at)
    return {"title": f"Event {n}", "status": "open", "priority": n % 5, **times}


def _reading(n: int) -> dict[str, Any]:
    values = ("sensor", "value", "minimum", "maximum", "count", "flags")
    return {name: n * (index + 1) for index, name in enumerate(values)}


COLUMN_SET = (
    Table("text", "a 4 KB text left out", "Note", ("id", "title", "status"), _note),
    Table("json", "a JSON document left out", "Payload", ("id", "title", "status"), _payload),
    Table("datetime", "four timestamps left out", "Event", ("id", "title", "status"), _event),
    Table(
        "narrow",
        "two narrow numbers left out",
        "Reading",
        ("id", "sensor", "value", "minimum", "maximum"),
        _reading,
    ),
)


def _serializer(model: type[Model], fields: tuple[str, ...]) -> type[Any]:
    meta = type("Meta", (), {"model": model, "fields": fields})
    return type(f"{model.__name__}ListSerializer", (serializers.ModelSerializer,), {"Meta": meta})


def _median_ms(render: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _measure(table: Table, size: int, runs: int) -> dict[str, Any]:
    from benchmarks.benchapp import models
    from drf_autoprefetch import plan_for
    from drf_autoprefetch.apply import apply_plan

    model: type[Model] = getattr(models, table.model)
    model.objects.all().delete()
    model.objects.bulk_create((model(**table.row(n)) for n in range(size)), batch_size=500)
    serializer = _serializer(model, table.fields)
    plan = plan_for(serializer)
    strategies: dict[str, Callable[[], QuerySet[Any]]] = {
        "all columns": lambda: model.objects.all(),
        "hand only()": lambda: model.objects.only(*table.fields),
        # As the view mixin's list action applies it: the root's columns pruned too.
        "drf_autoprefetch": lambda: apply_plan(model.objects.all(), plan, prune=True),
    }
    medians: dict[str, list[float]] = {name: [] for name in strategies}
    for _ in range(runs):  # round-robin: drift in the machine's load hits all alike
        for name, queryset in strategies.items():
            medians[name].append(_median_ms(lambda q=queryset: serializer(q(), many=True).data, 1))
    model.objects.all().delete()
    return {
        "table": table.name,
        "description": table.description,
        "rows": size,
        "pruned": plan.only is not None,
        "median_ms": {name: statistics.median(times) for name, times in medians.items()},
    }


def column_benchmarks(sizes: tuple[int, ...] = (100, 1000), runs: int = 9) -> list[dict[str, Any]]:
    return [_measure(table, size, runs) for table in COLUMN_SET for size in sizes]
