"""The fan-in sweep: join a to-one relation into its prefetch, or load it apart.

Baskets of ten lines, each line with its product. With the join (the default plan) the
lines' query brings one product instance per line; split (``autoprefetch_split``) a
second query brings one instance per distinct product. The sweep varies the number of
lines of a request (10 to 4,000) and the fan-in (distinct products per line: 1.0 to
0.01), on each database of the main leg, with and without a simulated round trip of 0.5 ms per
query. Medians of round-robin runs; the ratio is split / join (below 1: split faster).

Each cell also records what the loading cost model (``SPLIT = "auto"``) chooses for that
request, given the seeded tables' sizes and every basket as the request's rows.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import Model
from rest_framework import serializers

__all__ = ["FAN_INS", "LINES", "cost_model_choice", "fan_in_sweep"]

LINES = (10, 100, 1000, 4000)
FAN_INS = (1.0, 0.5, 0.1, 0.05, 0.02, 0.01)
#: Busy-waited before each query, standing for the network (as the main benchmark does).
ROUND_TRIP_S = 0.0005


def _serializers() -> tuple[type[Any], type[Any]]:
    from benchmarks.benchapp.models import Basket, Line, Product

    class ProductSerializer(serializers.ModelSerializer):
        class Meta:
            model = Product
            fields = ("id", "name")

    class LineSerializer(serializers.ModelSerializer):
        product = ProductSerializer(read_only=True)

        class Meta:
            model = Line
            fields = ("id", "quantity", "product")

    class JoinedBasketSerializer(serializers.ModelSerializer):
        lines = LineSerializer(many=True, read_only=True)

        class Meta:
            model = Basket
            fields = ("id", "label", "lines")

    class SplitBasketSerializer(JoinedBasketSerializer):
        autoprefetch_split = ("lines__product",)

    return JoinedBasketSerializer, SplitBasketSerializer


def _seed(lines: int, fan_in: float) -> dict[type[Model], int]:
    """Seed the baskets, lines and products of one cell; return each table's rows."""
    from benchmarks.benchapp.models import Basket, Line, Product

    Line.objects.all().delete()
    Basket.objects.all().delete()
    Product.objects.all().delete()
    products = Product.objects.bulk_create(
        Product(name=f"Product {n}") for n in range(max(1, round(lines * fan_in)))
    )
    baskets = Basket.objects.bulk_create(
        Basket(label=f"Basket {n}") for n in range(max(1, lines // 10))
    )
    Line.objects.bulk_create(
        (
            Line(basket=baskets[n % len(baskets)], product=products[n % len(products)], quantity=n)
            for n in range(lines)
        ),
        batch_size=500,
    )
    return {Basket: len(baskets), Line: lines, Product: len(products)}


def cost_model_choice(serializer: type[Any], tables: dict[type[Model], int]) -> str:
    """What the loading cost model chooses for the lines' products when a request reads
    every row of ``serializer``'s model: ``"split"`` or ``"join"``, from ``tables``' rows."""
    from drf_autoprefetch import plan_for
    from drf_autoprefetch.loading import choose

    plan = plan_for(serializer)

    def sizes(model: type[Model]) -> float | None:
        rows = tables.get(model)
        return None if rows is None else float(rows)

    paths = choose(plan.model, plan.relations, sizes(plan.model), sizes)
    return "split" if "lines__product" in paths else "join"


def _round_trip(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    deadline = time.perf_counter() + ROUND_TRIP_S
    while time.perf_counter() < deadline:
        pass
    return execute(sql, params, many, context)


def _time(render: Callable[[], Any], round_trip: bool) -> float:
    gc.collect()
    started = time.perf_counter()
    if round_trip:
        with connection.execute_wrapper(_round_trip):
            render()
    else:
        render()
    return (time.perf_counter() - started) * 1000


def _medians(serializers: dict[str, type[Any]], round_trip: bool, runs: int) -> dict[str, float]:
    """Median milliseconds of rendering every basket with each serializer, round-robin."""
    from benchmarks.benchapp.models import Basket
    from drf_autoprefetch import optimize

    times: dict[str, list[float]] = {name: [] for name in serializers}
    for _ in range(runs):
        for name, serializer in serializers.items():
            rows = optimize(Basket.objects.all(), serializer)
            render = lambda s=serializer, r=rows: s(r, many=True).data  # noqa: E731
            times[name].append(_time(render, round_trip))
    return {name: statistics.median(found) for name, found in times.items()}


def fan_in_sweep(runs: int = 7) -> list[dict[str, Any]]:
    joined, split = _serializers()
    cells = []
    for lines in LINES:
        for fan_in in FAN_INS:
            auto = cost_model_choice(joined, _seed(lines, fan_in))
            for round_trip in (False, True):
                # Small requests take a millisecond or two: more runs steady their medians.
                times = runs if lines >= 1000 else runs * 3
                medians = _medians({"join": joined, "split": split}, round_trip, times)
                cells.append(
                    {
                        "lines": lines,
                        "fan_in": fan_in,
                        "round_trip": round_trip,
                        "join_ms": medians["join"],
                        "split_ms": medians["split"],
                        "ratio": medians["split"] / medians["join"],
                        "auto": auto,
                    }
                )
    return cells
