"""How each strategy turns a scenario into a DRF viewset.

Every strategy serves the same serializer through a ``ReadOnlyModelViewSet`` with the
sample's pagination. Each peer is wired the way its documentation says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import viewsets

from benchmarks.scenarios import Scenario

__all__ = ["STRATEGIES", "viewset_for"]

Builder = Callable[[Scenario], type]


def _viewset(scenario: Scenario, name: str, *bases: type, **attrs: Any) -> type:
    attrs.setdefault("queryset", scenario.model._default_manager.all())
    attrs.setdefault("serializer_class", scenario.serializer)
    return type(f"{scenario.name}_{name}", (*bases, viewsets.ReadOnlyModelViewSet), attrs)


def _unoptimized(scenario: Scenario) -> type:
    return _viewset(scenario, "unoptimized")


def _hand(scenario: Scenario) -> type:
    # A class attribute, as hand-written viewsets declare it; DRF clones it per request.
    return _viewset(scenario, "hand", queryset=scenario.hand())


def _autoprefetch(scenario: Scenario) -> type:
    from drf_autoprefetch import AutoPrefetchMixin

    return _viewset(scenario, "autoprefetch", AutoPrefetchMixin)


def _autoprefetch_auto(scenario: Scenario) -> type:
    from drf_autoprefetch import AutoPrefetchMixin

    _read_statistics(scenario)
    # The same fields, so the same JSON; only the loading cost model is switched on.
    serializer = type(
        f"Auto{scenario.serializer.__name__}",
        (scenario.serializer,),
        {"autoprefetch_split": "auto"},
    )
    return _viewset(scenario, "autoprefetch_auto", AutoPrefetchMixin, serializer_class=serializer)


def _read_statistics(scenario: Scenario) -> None:
    """Read the database's table statistics afresh, as the cost model keeps them (for ten
    minutes): the requests measured next are steady ones, which read none."""
    from drf_autoprefetch import sizes

    sizes.clear()
    sizes.table_rows(scenario.model, scenario.model._default_manager.db)


def _fetch_peers(scenario: Scenario) -> type:
    from django.db.models import FETCH_PEERS  # Django 6.1 and later

    def get_queryset(self: Any) -> Any:
        return viewsets.ReadOnlyModelViewSet.get_queryset(self).fetch_mode(FETCH_PEERS)

    return _viewset(scenario, "fetch_peers", get_queryset=get_queryset)


def _auto_prefetching(scenario: Scenario) -> type:
    from django_auto_prefetching import AutoPrefetchViewSetMixin

    return _viewset(scenario, "auto_prefetching", AutoPrefetchViewSetMixin)


def _serializer_prefetch(scenario: Scenario) -> type:
    from serializer_prefetch import PrefetchingSerializerMixin

    serializer = type(
        f"Prefetching{scenario.serializer.__name__}",
        (PrefetchingSerializerMixin, scenario.serializer),
        {},
    )
    return _viewset(scenario, "serializer_prefetch", serializer_class=serializer)


def _fastdrf(scenario: Scenario) -> type:
    from fastdrf.views import QueryOptimizationMixin

    meta = type("Meta", (scenario.serializer.Meta,), {"auto_prefetch": True})
    serializer = type(f"Fast{scenario.serializer.__name__}", (scenario.serializer,), {"Meta": meta})
    return _viewset(scenario, "fastdrf", QueryOptimizationMixin, serializer_class=serializer)


STRATEGIES: dict[str, Builder] = {
    "unoptimized": _unoptimized,
    "hand": _hand,
    "autoprefetch": _autoprefetch,
    "autoprefetch_auto": _autoprefetch_auto,
    "fetch_peers": _fetch_peers,
    "auto_prefetching": _auto_prefetching,
    "serializer_prefetch": _serializer_prefetch,
    "fastdrf": _fastdrf,
}


def viewset_for(strategy: str, scenario: Scenario) -> type:
    """The viewset class of ``strategy`` for ``scenario`` (peers are imported here)."""
    return STRATEGIES[strategy](scenario)
