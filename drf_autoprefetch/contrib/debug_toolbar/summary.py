"""A request's report as the panel shows it: plain data the toolbar can store."""

from __future__ import annotations

from typing import Any

from drf_autoprefetch.observe import Applied, Report
from drf_autoprefetch.suggest import table_of
from drf_autoprefetch.tree import Relation

__all__ = ["summarize"]

PLANNED = "planned"
UNPLANNED = "unplanned"
OTHER = "other"


def summarize(report: Report) -> dict[str, Any]:
    """Plans applied, and each query marked planned (with the plan node it loads),
    unplanned (with the field that ran it and the hint that would plan it) or other."""
    nodes = _nodes(report.applied)
    queries = [
        {
            "alias": query.alias,
            "sql": query.sql,
            "milliseconds": round(query.milliseconds, 2),
            **_status(query.sql, query.field, query.hint, nodes),
        }
        for query in report.queries
    ]
    counts = dict.fromkeys((PLANNED, UNPLANNED, OTHER), 0)
    for query in queries:
        counts[query["status"]] += 1
    plans: dict[tuple[str, str, str], dict[str, Any]] = {}
    for applied in report.applied:  # the same plan applied again (the browsable API's
        entry = _plan_entry(applied)  # forms read the queryset too) is shown once
        key = (entry["source"], entry["serializer"], "\n".join(entry["tree"]))
        plans.setdefault(key, {**entry, "applied": 0})["applied"] += 1
    return {
        "plans": list(plans.values()),
        "queries": queries,
        "counts": counts,
        "predicted": sum(entry["queries"] for entry in plans.values()),
    }


def _plan_entry(applied: Applied) -> dict[str, Any]:
    plan = applied.plan
    return {
        "source": applied.source,
        "serializer": applied.serializer,
        "queries": plan.query_count,
        "tree": str(plan).splitlines(),
        "warnings": list(plan.warnings),
    }


def _nodes(applied: list[Applied]) -> dict[str, str]:
    """Table -> the plan node whose query reads it (the first plan's, where several do)."""
    nodes: dict[str, str] = {}
    for each in applied:
        plan = each.plan
        nodes.setdefault(plan.model._meta.db_table, f"{plan.model._meta.label} rows")
        for relation in plan.relations:
            _relation_nodes(relation, nodes)
    return nodes


def _relation_nodes(relation: Relation, nodes: dict[str, str]) -> None:
    if relation.opens_query and relation.model is not None:
        nodes.setdefault(relation.model._meta.db_table, relation.describe())
    for child in relation.children:
        _relation_nodes(child, nodes)


def _status(sql: str, field: str | None, hint: str | None, nodes: dict[str, str]) -> dict[str, Any]:
    if field is not None:
        return {"status": UNPLANNED, "node": None, "field": field, "hint": hint}
    table = table_of(sql)
    node = nodes.get(table) if table else None
    if node is None:
        return {"status": OTHER, "node": None, "field": None, "hint": None}
    if sql.lstrip().upper().startswith("SELECT COUNT("):
        node = f"count of {node}"
    return {"status": PLANNED, "node": node, "field": None, "hint": None}
