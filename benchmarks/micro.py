"""Micro-benchmarks of planning and applying, in microseconds.

- cold plan: ``plan_for(S)`` right after ``drf_autoprefetch.planner.clear_cache()``,
  which also forgets the model metadata the planner caches;
- warm ``optimize()``: ``optimize(Model.objects.all(), S)`` with the plan cached, next to
  what building the hand-written queryset costs;
- the mixin's ``get_queryset()`` with the plan cached, next to DRF's own;
- the same for serializers whose fields vary per request (:mod:`benchmarks.dynamic`);
- the column-pruning set (:mod:`benchmarks.columns`);
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["micro_benchmarks"]

#: Serializers ordered from shallow to deep; the last one is the deepest.
DEEPEST = "deep"


def _per_call(function: Callable[[], Any], *, calls: int, batches: int = 7) -> dict[str, float]:
    """Median and minimum microseconds per call over ``batches`` batches of ``calls``,
    with the garbage collector off while they run, as ``timeit`` does: a collection of
    what earlier measurements left would otherwise land in one scenario's batches."""
    function()
    results = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(batches):
            started = time.perf_counter()
            for _ in range(calls):
                function()
            results.append((time.perf_counter() - started) / calls * 1e6)
    finally:
        gc.enable()
    return {"median_us": statistics.median(results), "min_us": min(results)}


def _cold_plan(serializer: type, repeats: int = 30) -> dict[str, float]:
    from drf_autoprefetch import plan_for
    from drf_autoprefetch.planner import clear_cache

    results = []
    for _ in range(repeats):
        clear_cache()
        started = time.perf_counter()
        plan_for(serializer)
        results.append((time.perf_counter() - started) * 1e6)
    return {"median_us": statistics.median(results), "min_us": min(results)}


def _view(viewset: type) -> Any:
    from rest_framework.test import APIRequestFactory

    view = viewset(action_map={"get": "list"})
    view.action = "list"
    view.args = ()
    view.kwargs = {}
    view.format_kwarg = None
    view.request = view.initialize_request(APIRequestFactory().get("/"))
    return view


def micro_benchmarks() -> dict[str, Any]:
    from benchmarks.scenarios import SCENARIOS
    from benchmarks.strategies import viewset_for
    from drf_autoprefetch import optimize, plan_for

    found: dict[str, Any] = {"deepest": DEEPEST, "serializers": {}}
    for scenario in SCENARIOS:
        serializer = scenario.serializer
        base = scenario.model._default_manager.all()
        entry: dict[str, Any] = {"serializer": serializer.__name__}
        entry["cold_plan"] = _cold_plan(serializer)
        plan_for(serializer)
        entry["optimize"] = _per_call(lambda s=serializer, b=base: optimize(b, s), calls=500)
        entry["hand_queryset"] = _per_call(scenario.hand, calls=500)
        mixin = _view(viewset_for("autoprefetch", scenario))
        plain = _view(viewset_for("unoptimized", scenario))
        entry["mixin_get_queryset"] = _per_call(mixin.get_queryset, calls=500)
        entry["drf_get_queryset"] = _per_call(plain.get_queryset, calls=500)
        found["serializers"][scenario.name] = entry
    from benchmarks.dynamic import dynamic_benchmarks

    found["dynamic"] = dynamic_benchmarks(_per_call)
    from benchmarks.columns import column_benchmarks

    found["columns"] = column_benchmarks()
    return found
