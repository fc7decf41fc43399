"""Helpers for the test suites of projects using drf_autoprefetch.

:func:`assert_optimized` renders a queryset with a serializer twice, as given and
optimized, and fails when the optimization changes the data, runs queries its plan does
not predict, or runs more queries for more rows. It works under any test runner.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connections
from django.db.models import Model, QuerySet
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import BaseSerializer

from drf_autoprefetch import observe, strict
from drf_autoprefetch.apply import applied_relations
from drf_autoprefetch.plan import Kind, Plan, Relation
from drf_autoprefetch.planner import plan_for_queryset

__all__ = ["assert_endpoint_optimized", "assert_optimized"]

#: Lines of the data diff shown in a failure message.
MAX_DIFF_LINES = 40


@dataclass(frozen=True)
class _Run:
    """One optimized rendering: its data, rows and queries."""

    data: Any
    rows: list[Model]
    queries: list[str]
    #: Queries run while the rows were rendered, with the field path that ran each.
    unplanned: list[strict.Unplanned]

    @property
    def count(self) -> int:
        return len(self.queries)


def assert_optimized(
    serializer_class: type[BaseSerializer[Any]],
    queryset: QuerySet[Any],
    *,
    context: Mapping[str, Any] | None = None,
) -> int:
    """Check that ``serializer_class`` renders ``queryset`` optimized, and as given.

    Renders ``serializer_class(queryset, many=True, context=context).data`` as given and
    with the plan of ``serializer_class`` applied, counting the queries on
    ``queryset.db``. Raises ``AssertionError`` when

    - the optimized data differ from the data as given (a short diff is shown);
    - the optimized rendering runs another number of queries than the plan predicts:
      the root query plus one per prefetch, minus the prefetches Django skips because a
      level of the tree is empty for every row, plus one per content type for a generic
      foreign key;
    - the number of queries beyond that prediction changes when only the first half of
      the rows is rendered (a query per row).

    The message shows both counts and the numbered SQL of the optimized rendering.
    Returns the number of queries of the optimized rendering.
    """
    plan = plan_for_queryset(serializer_class, queryset, context=context)
    try:
        expected = _render(serializer_class, list(queryset.all()), context)
    except Exception as exc:
        raise AssertionError(
            f"{serializer_class.__name__} fails to render the queryset as given, without "
            f"drf_autoprefetch: {type(exc).__name__}: {exc}. Fix the serializer (or the "
            "queryset, or the context it needs) first."
        ) from exc
    full = _run_optimized(serializer_class, plan, queryset, context)
    problems: list[str] = []
    if full.data != expected:
        problems.append(f"The data differ:\n{_diff(expected, full.data)}")
    predicted = _predict(plan, queryset, full.rows)
    if full.count != predicted and (full.rows or full.count > 1):  # .none() runs no query
        problems.append(
            f"The optimized rendering of {len(full.rows)} rows ran {full.count} queries; "
            f"the plan predicts {predicted}."
        )
    if len(full.rows) >= 2:
        problems.extend(_check_half(serializer_class, plan, queryset, context, full, predicted))
    if problems:
        raise AssertionError(_message(serializer_class, problems, full, plan))
    return full.count


def _render(
    serializer_class: type[BaseSerializer[Any]], instance: Any, context: Mapping[str, Any] | None
) -> Any:
    serializer = serializer_class(instance, many=True, context=_context(context))
    return _as_json(serializer.data)


def _context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if context is None else dict(context)


def _as_json(data: Any) -> Any:
    return json.loads(JSONRenderer().render(data))


def _run_optimized(
    serializer_class: type[BaseSerializer[Any]],
    plan: Plan,
    queryset: QuerySet[Any],
    context: Mapping[str, Any] | None,
) -> _Run:
    serializer = serializer_class(plan.apply(queryset), many=True, context=_context(context))
    strict.disable(serializer)  # this helper reports every query itself:
    strict.enable(serializer)  # strict tracking, recording what it would refuse
    with (
        strict.recording() as unplanned,
        CaptureQueriesContext(connections[queryset.db]) as captured,
    ):
        data = _as_json(serializer.data)
    rows = list(serializer.instance) if serializer.instance is not None else []
    queries = [query["sql"] for query in captured.captured_queries]
    return _Run(data, rows, queries, unplanned)


def _check_half(
    serializer_class: type[BaseSerializer[Any]],
    plan: Plan,
    queryset: QuerySet[Any],
    context: Mapping[str, Any] | None,
    full: _Run,
    predicted: int,
) -> list[str]:
    """Render the first half of the rows: the extra queries, if any, must not change."""
    half_pks = [row.pk for row in full.rows[: len(full.rows) // 2]]
    unsliced = queryset.all()
    unsliced.query.clear_limits()
    halved = unsliced.filter(pk__in=half_pks)
    half = _run_optimized(serializer_class, plan, halved, context)
    half_predicted = _predict(plan, halved, half.rows)
    if full.count - predicted == half.count - half_predicted:
        return []
    return [
        f"The query count grows with the number of rows: {full.count} queries for "
        f"{len(full.rows)} rows (the plan predicts {predicted}), {half.count} for the first "
        f"{len(half.rows)} (the plan predicts {half_predicted})."
    ]


def _predict(plan: Plan, queryset: QuerySet[Any], rows: Sequence[Model]) -> int:
    """The queries the plan runs for ``rows`` of ``queryset``: the root query plus the
    prefetches that run, with the relations the cost model loads apart, if it is on.

    Django skips a prefetch when the level above it has no rows at all, and runs one
    query per content type for a generic foreign key.
    """
    return 1 + _level_queries(applied_relations(queryset, plan), rows)


def _level_queries(relations: Iterable[Relation], parents: Sequence[Model]) -> int:
    total = 0
    for relation in relations:
        if not parents:
            break
        if relation.kind is Kind.GENERIC:
            total += _content_types(relation, parents)
            continue
        if relation.opens_query:
            total += 1
        total += _level_queries(relation.children, _loaded(relation, parents))
    return total


def _loaded(relation: Relation, parents: Sequence[Model]) -> list[Model]:
    """The rows the plan loaded for ``relation`` below ``parents``, from their caches."""
    found: list[Model] = []
    for parent in parents:
        try:
            value = getattr(parent, relation.attr)
        except ObjectDoesNotExist:  # a missing reverse one-to-one
            continue
        if value is None:
            continue
        if relation.kind is Kind.PREFETCH:
            found.extend(value if isinstance(value, list) else value.all())
        else:
            found.append(value)
    return found


def _content_types(relation: Relation, parents: Sequence[Model]) -> int:
    """How many queries Django runs to prefetch a generic foreign key: one per type."""
    field: Any = parents[0]._meta.get_field(relation.lookup)
    ct_field: Any = parents[0]._meta.get_field(field.ct_field)
    ct_attname = ct_field.attname
    found = {
        getattr(parent, ct_attname)
        for parent in parents
        if getattr(parent, ct_attname) is not None and getattr(parent, field.fk_field) is not None
    }
    return len(found)


def _diff(expected: Any, actual: Any) -> str:
    lines = list(
        difflib.unified_diff(
            json.dumps(expected, indent=2).splitlines(),
            json.dumps(actual, indent=2).splitlines(),
            fromfile="as given",
            tofile="optimized",
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... ({len(lines) - MAX_DIFF_LINES} more lines)"]
    return "\n".join(lines)


def _message(serializer_class: type[Any], problems: list[str], full: _Run, plan: Plan) -> str:
    queries = "\n".join(f"  {number}. {sql}" for number, sql in enumerate(full.queries, 1))
    lines = [
        f"{serializer_class.__name__} is not rendered optimized:",
        *(f"- {problem}" for problem in problems),
        f"Queries of the optimized rendering ({full.count}):",
        queries or "  (none)",
    ]
    if full.unplanned:
        lines.append("Queries the plan did not foresee, by the field that ran them:")
        lines.extend(_unplanned_lines(full.unplanned))
    if plan.warnings:
        lines.append("The plan's warnings:")
        lines.extend(f"  ! {warning}" for warning in plan.warnings)
    return "\n".join(lines)


def _unplanned_lines(unplanned: Iterable[strict.Unplanned]) -> list[str]:
    """One line per field and query shape: how often it ran, and the hint that plans it."""
    counted: dict[tuple[str, str, str | None], int] = {}
    for query in unplanned:
        key = (query.path, query.sql, query.hint)
        counted[key] = counted.get(key, 0) + 1
    lines = []
    for (path, sql, hint), times in counted.items():
        line = f"  {path} ({times}x): {sql}"
        lines.append(f"{line}\n    add {hint} to the code behind {path}" if hint else line)
    return lines


def assert_endpoint_optimized(
    client: Any,
    url: str,
    create: Callable[[int], Any],
    *,
    sizes: tuple[int, int] = (2, 6),
) -> int:
    """Check that the list endpoint ``url`` runs the queries its plans predict, whatever
    the number of rows.

    ``create(n)`` adds ``n`` rows (with what they relate to) to the database; ``client``
    is Django's or DRF's test client. The endpoint is requested once after
    ``create(sizes[0])`` and once after ``create(sizes[1] - sizes[0])`` more. Raises
    ``AssertionError`` when a response is not 200, when no plan was applied (the view has
    no ``AutoPrefetchMixin``), when a query ran while a response was serialized (each is
    listed with the field that ran it and the ``@hints`` line that would plan it), or when
    the two requests ran different numbers of queries. Returns that number.
    """
    first, second = sizes
    if not 0 < first < second:
        raise ValueError(f"sizes must be two growing row counts, not {sizes!r}.")
    create(first)
    small_status, small = _observed(client, url)
    create(second - first)
    large_status, large = _observed(client, url)
    problems = [
        *_endpoint_problems(url, first, small_status, small),
        *_endpoint_problems(url, second, large_status, large),
    ]
    if not problems and len(small.queries) != len(large.queries):
        problems.append(
            f"GET {url} ran {len(small.queries)} queries with {first} rows and "
            f"{len(large.queries)} with {second}: a query per row."
        )
    if problems:
        raise AssertionError("\n".join([*problems, "", *_endpoint_sql(large)]))
    return len(large.queries)


def _observed(client: Any, url: str) -> tuple[int, observe.Report]:
    with observe.observing() as report:
        response = client.get(url)
    return response.status_code, report


def _endpoint_problems(url: str, rows: int, status: int, report: observe.Report) -> list[str]:
    if status != 200:
        return [f"GET {url} with {rows} rows answered {status}."]
    if not report.applied:
        return [
            f"GET {url} applied no plan: does its view list AutoPrefetchMixin first (or its "
            "serializer use @auto_prefetch)?"
        ]
    unplanned = [query for query in report.queries if query.field is not None]
    if not unplanned:
        return []
    lines = [f"GET {url} with {rows} rows ran {len(unplanned)} queries no plan foresees:"]
    for field, hints in _by_field(unplanned).items():
        hint = f"; {next(iter(hints))} would plan it" if hints else ""
        lines.append(f"- {field}{hint}")
    return lines


def _by_field(queries: Iterable[observe.Query]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for query in queries:
        assert query.field is not None
        found.setdefault(query.field, set()).update([query.hint] if query.hint else [])
    return found


def _endpoint_sql(report: observe.Report) -> list[str]:
    lines = [f"Plans: {', '.join(f'{a.source} -> {a.serializer}' for a in report.applied)}"]
    lines.append("Queries of the larger request:")
    lines.extend(f"{number}. {query.sql}" for number, query in enumerate(report.queries, 1))
    return lines
