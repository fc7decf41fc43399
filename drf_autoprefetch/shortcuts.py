"""``optimize()``: plan a serializer and apply the plan to a QuerySet in one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from django.db.models import Manager, Model
from rest_framework.serializers import BaseSerializer

from drf_autoprefetch import observe
from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.planner import plan_failed, plan_for_queryset
from drf_autoprefetch.walk import serializer_model

if TYPE_CHECKING:
    from django.db.models import QuerySet  # noqa: TID251 - types only

__all__ = ["optimize"]

M = TypeVar("M", bound=Model)


@overload
def optimize(
    queryset: QuerySet[M],
    serializer_class: type[BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> QuerySet[M]: ...


@overload
def optimize(
    queryset: Manager[M],
    serializer_class: type[BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> QuerySet[M]: ...


@overload
def optimize(
    queryset: list[M],
    serializer_class: type[BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> list[M]: ...


def optimize(
    queryset: Any,
    serializer_class: type[BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """``queryset`` optimized for ``serializer_class``: ``plan_for(...).apply(queryset)``.

    A Manager gives its ``all()``. An evaluated QuerySet (or a list of instances) keeps
    the rows it holds: the plan is prefetched onto them, nothing is read again. A
    serializer with no ``Meta.model`` (one that renders something else than the rows)
    has nothing to plan: ``queryset`` is returned as it is, as the view mixin does.
    ``kwargs`` are the keyword arguments the serializer will be built with, such as
    ``fields=`` for one that renders only some of its fields. A serializer whose fields
    are built per request and cannot be built with these (it needs an argument only its
    call site passes) is not planned: ``queryset`` is returned as it is, and a warning
    logged. The model type is kept for
    type checkers: ``QuerySet[Book]`` (or ``Manager[Book]``) in, ``QuerySet[Book]`` out.
    """
    target: Any = queryset.all() if isinstance(queryset, Manager) else queryset
    if serializer_model(serializer_class) is None:
        return target
    try:
        plan = plan_for_queryset(serializer_class, target, context=context, kwargs=kwargs)
    except PlanError:
        raise
    except Exception as exc:  # the serializer's own code, built to be planned
        plan_failed("optimize()", serializer_class, exc)
        return target
    observe.applied("optimize()", serializer_class, plan, target)
    return plan.apply(target)
