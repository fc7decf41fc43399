"""``@auto_prefetch``: serializers that optimize the QuerySet they are given."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

from django.apps import apps
from django.db.models import Manager, QuerySet

from drf_autoprefetch import observe, strict
from drf_autoprefetch.apply import apply_plan
from drf_autoprefetch.conf import settings
from drf_autoprefetch.exceptions import ModelMismatch, PlanError
from drf_autoprefetch.planner import (
    mismatched,
    plan_failed,
    plan_for,
    plan_for_queryset,
    quietly,
)
from drf_autoprefetch.walk import serializer_model

__all__ = ["auto_prefetch", "registered_serializers"]

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=type)

_registry: list[type] = []
_pending: list[type] = []


def registered_serializers() -> tuple[type, ...]:
    """Every serializer class decorated with ``@auto_prefetch``, in declaration order."""
    return tuple(_registry)


def _optimizable(instance: object) -> bool:
    if isinstance(instance, Manager):
        return True
    return isinstance(instance, QuerySet) and instance._result_cache is None


def _optimize(klass: type, queryset: Any, kwargs: dict[str, Any], renders: bool) -> QuerySet[Any]:
    if isinstance(queryset, Manager):
        queryset = queryset.all()
    if serializer_model(klass) is None:  # a plain Serializer: no model to plan for
        return queryset  # type: ignore[no-any-return]
    try:
        plan = plan_for_queryset(klass, queryset, context=kwargs.get("context"), kwargs=kwargs)
    except PlanError:
        raise
    except Exception as exc:  # the serializer's own code, built to be planned
        plan_failed("@auto_prefetch", klass, exc)
        return queryset  # type: ignore[no-any-return]
    observe.applied("@auto_prefetch", klass, plan, queryset)
    try:
        # Rows given input data may be saved: Django saves only the loaded columns.
        optimized: QuerySet[Any] = apply_plan(queryset, plan, prune=renders)
    except ModelMismatch as exc:  # DRF renders rows having the fields it reads
        mismatched(ModelMismatch(f"@auto_prefetch {klass.__name__}: {exc}"))
        return queryset  # type: ignore[no-any-return]
    if settings.STRICT:
        optimized = strict.fetch_strictly(optimized)
    return optimized


def _renders_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether the serializer is given rows to render and no input data."""
    return len(args) < 2 and "data" not in kwargs


@overload
def auto_prefetch(serializer_class: S, /) -> S: ...


@overload
def auto_prefetch(*, validate: bool = True) -> Callable[[S], S]: ...


def auto_prefetch(serializer_class: Any = None, /, *, validate: bool = True) -> Any:
    """Register a serializer and make ``S(queryset, many=True)`` optimize ``queryset``.

    Usable bare (``@auto_prefetch``) or with options (``@auto_prefetch(validate=False)``).
    A list, an evaluated QuerySet or a single instance is left as it is. With
    ``DRF_AUTOPREFETCH["STRICT"]`` on, a serializer given a QuerySet to render (no input
    ``data``) serializes in strict mode, as in :mod:`drf_autoprefetch.strict`. With
    ``validate`` (the default) the plan is built once the app registry is ready, so a
    bad ``source`` or hint fails at start-up.
    """

    def register(cls: S) -> S:
        original = inspect.getattr_static(cls, "many_init")
        original_function = original.__func__

        def many_init(klass: type, *args: Any, **kwargs: Any) -> Any:
            optimized = False
            renders = _renders_only(args, kwargs)
            if args and _optimizable(args[0]):
                args = (_optimize(klass, args[0], kwargs, renders), *args[1:])
                optimized = True
            elif _optimizable(kwargs.get("instance")):
                kwargs["instance"] = _optimize(klass, kwargs["instance"], kwargs, renders)
                optimized = True
            serializer = original_function(klass, *args, **kwargs)
            if optimized and _renders_only(args, kwargs) and (settings.STRICT or observe.active()):
                strict.enable(serializer)
            return serializer

        many_init.__doc__ = original_function.__doc__
        cls.many_init = classmethod(many_init)  # type: ignore[attr-defined]
        _registry.append(cls)
        if validate:
            _pending.append(cls)
            if apps.ready:
                validate_pending()
        return cls

    if serializer_class is not None:
        return register(serializer_class)
    return register


def validate_pending() -> None:
    """Plan every decorated serializer not validated yet; a bad one raises ``PlanError``.

    A serializer that cannot even be built without a request (its fields read
    ``self.context["request"]``) is planned on first use instead; ``manage.py check``
    reports it as ``drf_autoprefetch.W002``.
    """
    while _pending:
        serializer_class = _pending.pop(0)
        try:
            with quietly():  # its warnings are the checks' to report, not every command's
                plan_for(serializer_class)
        except PlanError:
            raise
        except Exception:  # its fields need a request: planned on first use
            logger.debug("%s could not be planned without a request", serializer_class)
