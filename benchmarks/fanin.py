"""The fan-in sweep: join a to-one relation into its prefetch, or load it apart.

Baskets of ten lines, each line with its product. With the join (the default plan) the
lines' query brings one product instance per line; split (``autoprefetch_split``) a
second query brings one instance per distinct product. The sweep varies the number of
lines of a request (10 to 4,000) and the fan-in (distinct products per line: 1.0 to
0.01), on the main leg's database, with and without a simulated round trip of 0.5 ms per
query. Medians of round-robin runs; the ratio is split / join (below 1: split faster).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from rest_framework import serializers

__all__ = ["FAN_INS", "LINES", "fan_in_sweep"]

LINES = (10, 100, 1000, 4000)
FAN_INS = (1.0, 0.5, 0.1, 0.01)
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


def _seed(lines: int, fan_in: float) -> None:
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


def fan_in_sweep(runs: int = 7) -> list[dict[str, Any]]:
    from benchmarks.benchapp.models import Basket
    from drf_autoprefetch import optimize

    joined, split = _serializers()
    cells = []
    for lines in LINES:
        for fan_in in FAN_INS:
            _seed(lines, fan_in)
            for round_trip in (False, True):
                times: dict[str, list[float]] = {"join": [], "split": []}
                for _ in range(runs):
                    for name, serializer in (("join", joined), ("split", split)):
                        rows = optimize(Basket.objects.all(), serializer)
                        render = lambda s=serializer, r=rows: s(r, many=True).data  # noqa: E731
                        times[name].append(_time(render, round_trip))
                join_ms = statistics.median(times["join"])
                split_ms = statistics.median(times["split"])
                cells.append(
                    {
                        "lines": lines,
                        "fan_in": fan_in,
                        "round_trip": round_trip,
                        "join_ms": join_ms,
                        "split_ms": split_ms,
                        "ratio": split_ms / join_ms,
                    }
                )
    return cells
