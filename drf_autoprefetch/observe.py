"""What the library did during one request, for tools that show it.

Inside :func:`observing`, every plan the view mixin, ``@auto_prefetch`` or
``optimize()`` applies is recorded with the serializer it serves, and every query with
the serializer field that ran it when it ran while a response was serialized (a read
the plan did not foresee). Outside, recording costs one context-variable lookup per
applied plan. The Debug Toolbar panel (:mod:`drf_autoprefetch.contrib.debug_toolbar`)
shows these records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connections

from drf_autoprefetch import strict
from drf_autoprefetch.apply import loading_relations
from drf_autoprefetch.plan import Plan
from drf_autoprefetch.suggest import hint_for_query

__all__ = ["Applied", "Query", "Report", "active", "applied", "observing"]


@dataclass(frozen=True)
class Applied:
    """A plan applied to a queryset: by which view (or entry point) and for which
    serializer."""

    source: str
    serializer: str
    plan: Plan


@dataclass(frozen=True)
class Query:
    """A query of the request: its SQL and, for a query run while a response was
    serialized, the field that ran it and the ``@hints`` line that would plan it."""

    alias: str
    sql: str
    milliseconds: float
    field: str | None = None
    hint: str | None = None


@dataclass
class Report:
    """What one request did."""

    applied: list[Applied] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


_report: ContextVar[Report | None] = ContextVar("drf_autoprefetch_report", default=None)


def active() -> bool:
    """Whether a request is being observed (serializers then render in recording strict
    mode, so each query is tied to the field that ran it)."""
    return _report.get() is not None


def applied(
    source: str,
    serializer_class: type,
    plan: Plan,
    queryset: Any = None,
    rows: int | None = None,
) -> None:
    """Record that ``plan`` was applied for ``serializer_class``, if observing: as it
    loads ``queryset`` (for ``rows`` root rows), where the loading cost model is on."""
    report = _report.get()
    if report is not None:
        name = f"{serializer_class.__module__}.{serializer_class.__qualname__}"
        relations = loading_relations(queryset, plan, rows)
        if relations is not plan.relations:
            plan = replace(plan, relations=relations)
        report.applied.append(Applied(source, name, plan))


@contextmanager
def observing() -> Iterator[Report]:
    """Record, inside, the plans applied and the queries run (on every database)."""
    report = Report()
    token = _report.set(report)
    try:
        with strict.recording(), ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(_recorder(report, connection)))
            yield report
    finally:
        _report.reset(token)


def _recorder(report: Report, connection: Any) -> Callable[..., Any]:
    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        path, model = strict.current_field()
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            hint = hint_for_query(model, sql) if path is not None else None
            report.queries.append(Query(connection.alias, sql, elapsed, path, hint))

    return record
