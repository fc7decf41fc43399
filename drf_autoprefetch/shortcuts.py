"""``optimize()``: plan a serializer and apply the plan to a QuerySet in one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Manager
from rest_framework.serializers import BaseSerializer

from drf_autoprefetch import observe
from drf_autoprefetch.planner import plan_for_queryset, serializer_model

__all__ = ["optimize"]

Q = TypeVar("Q")


def optimize(
    queryset: Q,
    serializer_class: type[BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Q:
    """``queryset`` optimized for ``serializer_class``: ``plan_for(...).apply(queryset)``.

    A Manager gives its ``all()``. An evaluated QuerySet (or a list of instances) keeps
    the rows it holds: the plan is prefetched onto them, nothing is read again. A
    serializer with no ``Meta.model`` (one that renders something else than the rows)
    has nothing to plan: ``queryset`` is returned as it is, as the view mixin does.
    ``kwargs`` are the keyword arguments the serializer will be built with, such as
    ``fields=`` for one that renders only some of its fields.
    """
    target: Any = queryset.all() if isinstance(queryset, Manager) else queryset
    if serializer_model(serializer_class) is None:
        return target  # type: ignore[no-any-return]
    plan = plan_for_queryset(serializer_class, target, context=context, kwargs=kwargs)
    observe.applied("optimize()", serializer_class, plan)
    optimized: Any = plan.apply(target)
    return optimized  # type: ignore[no-any-return]
