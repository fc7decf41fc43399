"""How wide one query may grow: joins past the databases' limits load by queries of their own.

A plan joins every single-valued relation into the query of its parent. A serializer
rendering many foreign keys, each as a nested serializer (``Meta.depth``, NetBox-like
``?depth=2`` trees), can make that one query read more columns than a database returns
(PostgreSQL refuses more than 1,664, SQLite more than 2,000 by default) or join more
tables than it takes (MySQL and MariaDB stop at 61). Such a request works without the
plan, one query per row, and must not fail with it: where a query would pass
:data:`MAX_COLUMNS` columns or :data:`MAX_TABLES` tables, the widest joins are loaded by
queries of their own (a ``Prefetch`` of the single-valued relation), each one a query
with its own joins, until every query is within both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Model

from drf_autoprefetch.drafts import Draft
from drf_autoprefetch.tree import Kind

__all__ = ["MAX_COLUMNS", "MAX_TABLES", "wide_joins"]

#: The most columns one query of a plan reads: well under PostgreSQL's 1,664.
MAX_COLUMNS = 1000
#: The most tables one query of a plan joins: well under MySQL's 61.
MAX_TABLES = 40


@dataclass(frozen=True)
class _Width:
    columns: int
    tables: int

    def __add__(self, other: _Width) -> _Width:
        return _Width(self.columns + other.columns, self.tables + other.tables)

    @property
    def fits(self) -> bool:
        return self.columns <= MAX_COLUMNS and self.tables <= MAX_TABLES


def _own(model: type[Model] | None) -> _Width:
    """The columns and tables one model's rows take in a query (inherited tables too)."""
    if model is None:
        return _Width(0, 1)
    meta = model._meta
    return _Width(len(meta.concrete_fields), 1 + len(meta.get_parent_list()))


def wide_joins(root: Draft, apart: frozenset[str]) -> frozenset[str]:
    """The paths of the joins to load by queries of their own, so that no query of the
    plan reads more than :data:`MAX_COLUMNS` columns or joins more than
    :data:`MAX_TABLES` tables; ``apart`` holds the joins already loaded apart."""
    found: set[str] = set()
    queue = [root]
    while queue:
        level = queue.pop()
        _fit(level, apart | found, found)
        queue.extend(_levels_below(level, apart | found))
    return frozenset(found)


def _fit(level: Draft, apart: frozenset[str], found: set[str]) -> None:
    """Move the widest joins of ``level``'s query apart until the query fits."""
    while not _width(level, apart | found).fits:
        joins = list(_joined(level, apart | found))
        if not joins:
            return  # one model too wide by itself: nothing a plan can move
        widest = max(joins, key=lambda draft: (_width(draft, apart | found).columns, draft.path))
        found.add(widest.path)


def _width(draft: Draft, apart: frozenset[str]) -> _Width:
    """What ``draft``'s rows and the rows joined to them take in one query."""
    width = _own(draft.model)
    if draft.kind is Kind.PREFETCH:
        width += _Width(0, 1)  # the link table of a many-to-many relation, at most
    for child in _joined(draft, apart):
        width += _width(child, apart)
    return width


def _joined(draft: Draft, apart: frozenset[str]) -> Iterator[Draft]:
    """The children of ``draft`` joined into its query."""
    for child in draft.children.values():
        if _in_query(child, apart):
            yield child


def _in_query(draft: Draft, apart: frozenset[str]) -> bool:
    return (
        draft.kind is Kind.JOIN
        and not draft.plain
        and not draft.loose
        and not draft.annotations
        and draft.queryset is None
        and draft.path not in apart
    )


def _levels_below(draft: Draft, apart: frozenset[str]) -> Iterator[Draft]:
    """The relations below ``draft`` that open queries of their own (prefetches, joins
    loaded apart), reached through its joins."""
    for child in draft.children.values():
        if _in_query(child, apart):
            yield from _levels_below(child, apart)
        else:
            yield child
