"""``AutoPrefetchMixin``: optimize a generic view's queryset for its serializer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from drf_autoprefetch.plan import Plan
from drf_autoprefetch.planner import plan_for

__all__ = ["AutoPrefetchMixin"]


class AutoPrefetchMixin:
    """Mix into a ``GenericAPIView`` or ``ModelViewSet`` to optimize its queryset.

    ``get_queryset()`` returns the view's own queryset with the plan of
    ``get_serializer_class()`` merged in, so each action with its own serializer gets
    its own plan. Set ``autoprefetch = False`` to opt a view out; override
    ``get_prefetch_plan()`` to adjust the plan per view.
    """

    #: Set to ``False`` to leave this view's queryset as it is.
    autoprefetch: bool = True

    def get_prefetch_plan(self) -> Plan:
        """The plan for this request's serializer class, with its context."""
        view: Any = self
        return plan_for(view.get_serializer_class(), context=view.get_serializer_context())

    def optimize_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """``queryset`` with this view's plan applied."""
        return self.get_prefetch_plan().apply(queryset)

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()  # type: ignore[misc]
        if not self.autoprefetch or not isinstance(queryset, QuerySet):
            return queryset
        return self.optimize_queryset(queryset)
