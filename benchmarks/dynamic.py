"""The dynamic-fields scenario: what planning costs per request when the fields vary.

A NetBox-like serializer over companies is rendered full, brief and with ``?fields=``
(the view passes ``fields=`` through ``get_serializer()``, as NetBox does), and a
serializer that only overrides ``__init__`` is rendered as it is. For each mode:

- the warm per-request cost of the mixin's ``get_queryset()`` next to DRF's own;
- the queries planning runs (none is the goal) and the queries of the rendered list,
  next to the hand-written plan of the fields that mode renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.test.utils import CaptureQueriesContext

__all__ = ["MODES", "dynamic_benchmarks"]


@dataclass(frozen=True)
class Mode:
    name: str
    query: str
    serializer: str
    hand: Callable[[], QuerySet[Any]]


def _companies() -> QuerySet[Any]:
    from benchmarks.benchapp.models import Company

    return Company.objects.all()


def _full() -> QuerySet[Any]:
    from benchmarks.benchapp.models import Division

    divisions = Prefetch("divisions", queryset=Division.objects.select_related("head"))
    return _companies().select_related("country").prefetch_related(divisions)


def _country() -> QuerySet[Any]:
    return _companies().select_related("country")


MODES = (
    Mode("full", "", "DynamicCompanySerializer", _full),
    Mode("brief", "brief=1", "DynamicCompanySerializer", _companies),
    Mode("fields", "fields=id,name,country", "DynamicCompanySerializer", _country),
    Mode("init", "", "InitCompanySerializer", _full),
)


def _viewset(serializer: type, *, optimized: bool) -> type:
    from rest_framework import viewsets

    from drf_autoprefetch import AutoPrefetchMixin

    class Fields:
        """NetBox's view: ``?brief`` and ``?fields=`` reach the serializer."""

        def get_serializer(self: Any, *args: Any, **kwargs: Any) -> Any:
            params = self.request.query_params
            if params.get("fields"):
                kwargs["fields"] = params["fields"].split(",")
            elif params.get("brief"):
                kwargs["nested"] = True
            return super().get_serializer(*args, **kwargs)  # type: ignore[misc]

    bases = (AutoPrefetchMixin,) if optimized else ()
    attrs = {"queryset": _companies(), "serializer_class": serializer}
    return type("View", (*bases, Fields, viewsets.ReadOnlyModelViewSet), attrs)


def _view(viewset: type, query: str) -> Any:
    from rest_framework.test import APIRequestFactory

    view = viewset(action_map={"get": "list"})
    view.action = "list"
    view.args = ()
    view.kwargs = {}
    view.format_kwarg = None
    view.request = view.initialize_request(APIRequestFactory().get(f"/?{query}"))
    return view


def _rendered_queries(view: Any) -> tuple[int, int]:
    """Queries ``get_queryset()`` runs, and queries of the rendered list after it."""
    with CaptureQueriesContext(connection) as planning:
        queryset = view.get_queryset()
    with CaptureQueriesContext(connection) as rendering:
        view.get_serializer(queryset, many=True).data  # noqa: B018 - renders
    return len(planning), len(rendering)


def _hand_queries(view: Any, mode: Mode) -> int:
    with CaptureQueriesContext(connection) as rendering:
        view.get_serializer(mode.hand(), many=True).data  # noqa: B018 - renders
    return len(rendering)


def dynamic_benchmarks(per_call: Callable[..., dict[str, float]]) -> dict[str, Any]:
    from benchmarks.benchapp import serializers

    found: dict[str, Any] = {}
    for mode in MODES:
        serializer = getattr(serializers, mode.serializer)
        mixin = _view(_viewset(serializer, optimized=True), mode.query)
        plain = _view(_viewset(serializer, optimized=False), mode.query)
        planning, queries = _rendered_queries(
            _view(_viewset(serializer, optimized=True), mode.query)
        )
        found[mode.name] = {
            "serializer": mode.serializer,
            "query": mode.query,
            "mixin_get_queryset": per_call(mixin.get_queryset, calls=500),
            "drf_get_queryset": per_call(plain.get_queryset, calls=500),
            "planning_queries": planning,
            "queries": queries,
            "hand_queries": _hand_queries(plain, mode),
        }
    return found
