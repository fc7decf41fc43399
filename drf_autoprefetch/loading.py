"""The loading cost model: join a to-one relation into the prefetch above it, or load it
by a query of its own.

A plan joins each single-valued relation below a to-many one into that prefetch's query:
one related instance per child row. When many child rows share few related rows (low
fan-in), a query of its own builds one instance per distinct related row instead, and
that outweighs the extra query once a request reads enough rows. The crossover, measured
(``benchmarks/fanin.py``): from about :data:`MIN_ROWS` child rows, at a fan-in that grows
with the width of the related row (:func:`threshold`).

Under ``DRF_AUTOPREFETCH["SPLIT"] = "auto"`` (or ``autoprefetch_split = "auto"`` on a
serializer), each such edge is decided when the plan is applied, from what is cheap to
know: whether the relation is unique (a one-to-one or unique key always joins), the
tables' sizes (:mod:`drf_autoprefetch.sizes`) and the rows the request is expected to
read (the page size, a slice, or the root table). Where any of these is unknown, the
edge joins: the default is the plan as printed. Splitting never changes an answer; the
extra query is its only cost.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Model

from drf_autoprefetch.columns import relation_field
from drf_autoprefetch.conf import settings
from drf_autoprefetch.sizes import generation, table_rows
from drf_autoprefetch.tree import Kind, Relation

__all__ = [
    "DECISION_TTL",
    "MIN_ROWS",
    "Edge",
    "Request",
    "apart",
    "candidates",
    "choose",
    "distinct_targets",
    "relations_for",
    "splits_by_cost",
    "threshold",
]

#: Below this many child rows in one request, the extra query never paid in measurements.
MIN_ROWS = 1000

#: Table sizes by model: a number of rows, or ``None`` when it is not known.
Sizes = Callable[[type[Model]], "float | None"]


def threshold(columns: int) -> float:
    """The highest fan-in (distinct related rows per child row) at which loading a related
    model of ``columns`` columns apart pays: wider rows cost more to build per child row.

    Measured on a two-column target (``benchmarks/fanin.py``, PostgreSQL, with and without
    a round trip), the related rows loaded by the prefetch above them
    (:mod:`drf_autoprefetch.apart`): from 1,000 child rows, splitting took 5 to 18% off at
    a fan-in of 0.2 and below, and lost 3 to 6% at 0.5 and 15 to 30% at 1; below 1,000
    rows the round trip ate the gain. The rule stays on the safe side of that.
    """
    return min(0.3, 0.1 * columns)


def distinct_targets(rows: float, table: float) -> float:
    """How many distinct related rows ``rows`` child rows point to, expected, when they
    point into a table of ``table`` rows independently."""
    return table * -math.expm1(-rows / table)


@dataclass(frozen=True)
class Edge:
    """A to-one relation below a to-many one: the cost model may load it apart."""

    path: str
    relation: Relation
    #: The model whose rows hold the key (the prefetched model, or a model joined to it).
    holder: type[Model]


def candidates(relations: tuple[Relation, ...]) -> list[Edge]:
    """Every to-one relation below a to-many one that the plan joins, not unique."""
    found: list[Edge] = []
    _find(relations, None, "", False, found)
    return found


def _find(
    relations: tuple[Relation, ...],
    parent: type[Model] | None,
    prefix: str,
    below_many: bool,
    found: list[Edge],
) -> None:
    for relation in relations:
        path = f"{prefix}{relation.attr}"
        if relation.model is None or relation.plain or relation.kind is Kind.GENERIC:
            continue
        joined = below_many and relation.kind is Kind.JOIN
        if joined and parent is not None and not _unique(parent, relation.lookup):
            found.append(Edge(path, relation, parent))
        deeper = below_many or relation.kind is Kind.PREFETCH
        _find(relation.children, relation.model, f"{path}__", deeper, found)


@functools.lru_cache(maxsize=1024)
def _unique(model: type[Model], lookup: str) -> bool:
    field: Any = relation_field(model, lookup)
    return field is None or bool(field.one_to_one or getattr(field, "unique", False))


def choose(
    model: type[Model], relations: tuple[Relation, ...], root_rows: float | None, sizes: Sizes
) -> frozenset[str]:
    """The paths of the relations to load apart when ``root_rows`` rows of ``model`` are
    read (``None``: not known, nothing is split)."""
    if root_rows is None or root_rows <= 0:
        return frozenset()
    chosen: set[str] = set()
    _choose(model, relations, root_rows, "", False, sizes, chosen)
    return frozenset(chosen)


def _choose(
    parent: type[Model],
    relations: tuple[Relation, ...],
    rows: float,
    prefix: str,
    below_many: bool,
    sizes: Sizes,
    chosen: set[str],
) -> None:
    """Decide the edges of one level whose parent query reads ``rows`` rows of ``parent``."""
    for relation in relations:
        model = relation.model
        if model is None or relation.plain or relation.kind is Kind.GENERIC:
            continue
        path = f"{prefix}{relation.attr}"
        below = rows
        if relation.kind is Kind.PREFETCH:
            found = _children_rows(parent, relation, rows, sizes)
            if found is None:
                continue  # nothing below can be decided
            below = found
        elif relation.kind is Kind.JOIN and below_many:
            split = _pays(parent, relation, rows, sizes)
            if split is not None:
                chosen.add(path)
                below = split
        deeper = below_many or relation.kind is Kind.PREFETCH
        _choose(model, relation.children, below, f"{path}__", deeper, sizes, chosen)


def _pays(parent: type[Model], relation: Relation, rows: float, sizes: Sizes) -> float | None:
    """The rows a query of its own would read for ``relation``, when loading it apart
    pays for ``rows`` rows of ``parent``; ``None`` when the join is the better bet."""
    assert relation.model is not None
    if rows < MIN_ROWS or _unique(parent, relation.lookup):
        return None
    table = sizes(relation.model)
    if table is None:
        return None
    targets = distinct_targets(rows, table)
    if targets / rows > threshold(len(relation.model._meta.concrete_fields)):
        return None
    return targets


def _children_rows(
    parent: type[Model], relation: Relation, rows: float, sizes: Sizes
) -> float | None:
    """How many rows the prefetch of ``relation`` reads for ``rows`` rows of ``parent``:
    the rows of its link table per parent row, from the tables' sizes."""
    link = _link_model(parent, relation.lookup)
    parents = sizes(parent)
    links = sizes(link) if link is not None else None
    if parents is None or links is None:
        return None
    return min(links, rows * links / parents)


@functools.lru_cache(maxsize=1024)
def _link_model(parent: type[Model], lookup: str) -> type[Model] | None:
    """The model with one row per related row of a to-many relation (the related model
    of a reverse foreign key, the through model of a many-to-many one)."""
    field: Any = relation_field(parent, lookup)
    if field is None:
        return None
    if field.many_to_many:
        # A reverse relation (ManyToManyRel) holds the through model itself; a
        # ManyToManyField, on its remote_field (whether Django calls it concrete or not).
        through = getattr(field, "through", None) or field.remote_field.through
        return through if isinstance(through, type) else None
    related = field.related_model
    return related if isinstance(related, type) else None


def apart(relations: tuple[Relation, ...], paths: frozenset[str]) -> tuple[Relation, ...]:
    """``relations`` with the joins at ``paths`` loaded by queries of their own."""
    return tuple(_apart(relation, paths, "") for relation in relations)


def _apart(relation: Relation, paths: frozenset[str], prefix: str) -> Relation:
    path = f"{prefix}{relation.attr}"
    if not any(each == path or each.startswith(f"{path}__") for each in paths):
        return relation
    children = tuple(_apart(child, paths, f"{path}__") for child in relation.children)
    if path not in paths:
        return relation.with_children(children)
    return replace(
        relation,
        kind=Kind.PREFETCH_ONE,
        children=children,
        split=True,
        columns_why="all: loaded apart by the cost model, every column as the join would",
    )


# ------------------------------------------------------------------ per request


def splits_by_cost(splitting: str | bool | None) -> bool:
    """Whether the cost model decides, for a plan whose serializer's ``autoprefetch_split``
    gave ``splitting`` (``None``: the ``SPLIT`` setting decides)."""
    return (settings.SPLIT if splitting is None else splitting) == "auto"


@dataclass(frozen=True)
class Request:
    """What the cost model reads of the query a plan is applied to."""

    alias: str
    model: type[Model]
    #: The most root rows the caller expects to render (a page size), if it knows.
    rows: int | None
    #: The length of the query's slice, if it is sliced.
    span: int | None
    #: Whether the query filters its rows (then its table's size bounds nothing).
    filtered: bool

    def root_rows(self, sizes: Sizes) -> float | None:
        """How many root rows are expected: the caller's, the slice's, or (when nothing
        is filtered) the table's size; each bounded by the table's size."""
        rows = self.rows
        if self.span is not None:
            rows = self.span if rows is None else min(rows, self.span)
        table = sizes(self.model)
        if rows is None:
            return None if self.filtered else table
        return float(rows) if table is None else min(float(rows), table)


#: How long a decision serves requests alike (seconds).
DECISION_TTL = 60.0
#: Decisions kept per relation tree at most (one per database and page size, in practice).
_DECISIONS = 64
#: The memo key of what the cost model keeps (no lookup path contains a space).
_MEMO = "apart ?"


@dataclass
class _Kept:
    """What the cost model found of one relation tree, kept with its first relation."""

    relations: tuple[Relation, ...]
    edges: list[Edge]
    variants: dict[frozenset[str], tuple[Relation, ...]] = field(default_factory=dict)
    #: (request, sizes' generation) -> (good until, the ``TABLE_ROWS`` read, the paths)
    decisions: dict[tuple[Request, int], tuple[float, Any, frozenset[str]]] = field(
        default_factory=dict
    )


def relations_for(
    model: type[Model], relations: tuple[Relation, ...], request: Request
) -> tuple[Relation, ...]:
    """``relations`` (of a plan for ``model``) with the relations that pay to load apart
    for ``request`` so loaded; the same tuple when none does."""
    kept = _kept(relations)
    if not kept.edges:
        return relations
    paths = _decided(kept, model, request)
    if not paths:
        return relations
    variant = kept.variants.get(paths)
    if variant is None:
        variant = kept.variants[paths] = apart(relations, paths)
    return variant


def _kept(relations: tuple[Relation, ...]) -> _Kept:
    memo = relations[0].memo
    kept = memo.get(_MEMO)
    if kept is None or kept.relations is not relations:
        kept = memo[_MEMO] = _Kept(relations, candidates(relations))
    assert isinstance(kept, _Kept)
    return kept


def _decided(kept: _Kept, model: type[Model], request: Request) -> frozenset[str]:
    """The paths to load apart for ``request``: decided once for requests alike while
    the sizes hold (statistics not read again, the same ``TABLE_ROWS``)."""
    now = time.monotonic()
    given = settings.TABLE_ROWS
    found = kept.decisions.get((request, generation()))
    if found is not None and found[0] > now and found[1] is given:
        return found[2]

    def sizes(each: type[Model]) -> float | None:
        return table_rows(each, request.alias)

    paths = choose(model, kept.relations, request.root_rows(sizes), sizes)
    if len(kept.decisions) >= _DECISIONS:
        kept.decisions.clear()
    # Keyed by the generation after the sizes were read (they may have been just now).
    kept.decisions[(request, generation())] = (now + DECISION_TTL, given, paths)
    return paths
