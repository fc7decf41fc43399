"""Why a plan loads each relation as it does, and which columns it loads: the text of
``manage.py prefetch_plans --explain``."""

from __future__ import annotations

from drf_autoprefetch import loading
from drf_autoprefetch.apply import splits_by_cost
from drf_autoprefetch.plan import Plan, joins_first
from drf_autoprefetch.tree import Kind, Relation, label
from drf_autoprefetch.widths import MAX_COLUMNS, MAX_TABLES

__all__ = ["explain"]


def explain(plan: Plan) -> list[str]:
    """One line per query level and per relation, each saying why."""
    lines = [label(plan.model)]
    if plan.columns_why:
        lines.append(f"  columns: {plan.columns_why}")
    for name, _ in plan.annotation_items:
        lines.append(f"  annotate {name}: declared by hints; an aggregate becomes a subquery")
    edges: dict[int, loading.Edge] = {}
    if splits_by_cost(plan):
        edges = {id(edge.relation): edge for edge in loading.candidates(plan.relations)}
    for relation in joins_first(plan.relations):
        lines.extend(_relation_lines(relation, "  ", edges))
    return lines


def _relation_lines(relation: Relation, indent: str, edges: dict[int, loading.Edge]) -> list[str]:
    why = _why(relation)
    edge = edges.get(id(relation))
    if edge is not None:
        why += f"; {_cost_rule(edge)}"
    lines = [f"{indent}{relation.describe()}: {why}"]
    inner = indent + "  "
    if relation.opens_query and relation.columns_why:
        lines.append(f"{inner}columns: {relation.columns_why}")
    for child in joins_first(relation.children):
        lines.extend(_relation_lines(child, inner, edges))
    return lines


def _cost_rule(edge: loading.Edge) -> str:
    """When the loading cost model loads ``edge`` apart instead."""
    model = edge.relation.model
    assert model is not None
    columns = len(model._meta.concrete_fields)
    return (
        f"the cost model loads it apart when a request reads at least {loading.MIN_ROWS:,} "
        f"{edge.holder.__name__} rows sharing at most {loading.threshold(columns):.2f} "
        f"distinct {model.__name__} per row (a {columns}-column row), from the tables' sizes"
    )


def _why(relation: Relation) -> str:
    if relation.plain:
        return "its plain lookup, one query: its manager takes no custom queryset"
    if relation.kind is Kind.JOIN:
        return "joined: a single-valued relation, read in the query of its parent"
    if relation.kind is Kind.GENERIC:
        return "a generic foreign key: one query per content type"
    if relation.kind is Kind.PREFETCH:
        what = "a filtered queryset from hints, " if relation.user_queryset else ""
        return f"prefetched: {what}a to-many relation, one query for the rows of every parent"
    return f"a query of its own: {_own_query(relation)}"


def _own_query(relation: Relation) -> str:
    causes: list[str] = []
    if relation.split:
        causes.append(
            "split from the prefetch above by the serializer's autoprefetch_split (many "
            "rows share few targets: one instance per target instead of one per row)"
        )
    if relation.user_queryset:
        causes.append("a queryset from hints, which a join cannot carry")
    if relation.annotations:
        causes.append("annotations from hints, which a join cannot carry")
    if relation.wide:
        causes.append(
            f"joining it would make its parent's query read more than {MAX_COLUMNS:,} "
            f"columns or join more than {MAX_TABLES} tables, past what databases take"
        )
    if not causes:
        causes.append("a foreign key without a database constraint (a join could drop rows)")
    elif relation.split:
        return causes[0]
    return "; ".join(causes)
