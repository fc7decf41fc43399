"""``AutoPrefetchMixin``: optimize a generic view's queryset for its serializer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.serializers import BaseSerializer

from drf_autoprefetch import strict
from drf_autoprefetch.conf import settings
from drf_autoprefetch.plan import Plan
from drf_autoprefetch.planner import plan_for

__all__ = ["AutoPrefetchMixin"]


class AutoPrefetchMixin:
    """Mix into a ``GenericAPIView`` or ``ModelViewSet`` to optimize its queryset.

    ``get_queryset()`` returns the view's own queryset with the plan of
    ``get_serializer_class()`` merged in, so each action with its own serializer gets
    its own plan. Set ``autoprefetch = False`` to opt a view out; override
    ``get_prefetch_plan()`` to adjust the plan per view.

    In strict mode (``DRF_AUTOPREFETCH["STRICT"]``, or ``autoprefetch_strict = True`` on
    the view) a query run while a response is serialized raises
    :class:`~drf_autoprefetch.UnplannedQueryError`. Serializers given input ``data``
    (create, update) are never strict: they render rows the plan did not load.
    """

    #: Set to ``False`` to leave this view's queryset as it is.
    autoprefetch: bool = True
    #: ``True`` or ``False`` to override ``DRF_AUTOPREFETCH["STRICT"]`` for this view.
    autoprefetch_strict: bool | None = None

    def get_prefetch_plan(self) -> Plan:
        """The plan for this request's serializer class, with its context."""
        view: Any = self
        return plan_for(view.get_serializer_class(), context=view.get_serializer_context())

    def optimize_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """``queryset`` with this view's plan applied."""
        return self.get_prefetch_plan().apply(queryset)

    def get_autoprefetch_strict(self) -> bool:
        """Whether this view serializes in strict mode: the attribute, else the setting."""
        if not self.autoprefetch:
            return False
        if self.autoprefetch_strict is not None:
            return self.autoprefetch_strict
        return settings.STRICT

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()  # type: ignore[misc]
        if not self.autoprefetch or not isinstance(queryset, QuerySet):
            return queryset
        view: Any = self
        if getattr(getattr(view.get_serializer_class(), "Meta", None), "model", None) is None:
            return queryset  # e.g. an action whose serializer only reads input
        queryset = self.optimize_queryset(queryset)
        if self.get_autoprefetch_strict():
            queryset = strict.fetch_strictly(queryset)
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]:
        serializer: BaseSerializer[Any] = super().get_serializer(  # type: ignore[misc]
            *args, **kwargs
        )
        if self._renders_only(args, kwargs) and self.get_autoprefetch_strict():
            strict.enable(serializer)
        else:
            strict.disable(serializer)  # e.g. switched on by @auto_prefetch
        return serializer

    @staticmethod
    def _renders_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether the serializer is given an instance to render and no input data."""
        has_instance = bool(args) or kwargs.get("instance") is not None
        return has_instance and len(args) < 2 and "data" not in kwargs
