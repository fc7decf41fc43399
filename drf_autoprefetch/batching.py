"""Reading a prefetch's rows in batches under the backend's parameter limit.

Django filters a prefetch queryset with one ``IN`` list holding a key of every parent
row. On a backend that limits the parameters of one query (SQLite), a prefetch for more
parent rows than that limit runs as several queries, each under it, with the same rows
in the same order for every parent. Backends with no limit read the rows as Django
does, the query unexamined.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

from django.db import connections
from django.db.models import QuerySet
from django.db.models.lookups import In
from django.db.models.query import ModelIterable
from django.db.models.sql.where import AND, WhereNode

__all__ = ["OR_CHAIN", "BatchedModelIterable", "ModelIterableBase", "batched", "parameter_limit"]

if TYPE_CHECKING:
    ModelIterableBase = ModelIterable[Any]
else:
    ModelIterableBase = ModelIterable  # not subscriptable at run time


class BatchedModelIterable(ModelIterableBase):
    """Model rows of a prefetch queryset, read in batches under the backend's limit.

    Django filters a prefetch queryset with one ``IN`` list holding a key of every
    parent row. Where the backend limits the parameters of one query
    (``connection.features.max_query_params``, or SQLite's ``SQLITE_LIMIT_VARIABLE_NUMBER``
    as the connection reports it), a longer list is split and each part read by a query
    of its own. The rows of one parent all come from the same query, so each parent gets
    the same rows in the same order as from one query; only the order between parents,
    which a prefetch does not use, can differ.
    """

    def __iter__(self) -> Iterator[Any]:
        parts = _batches(self.queryset) if _may_batch(self.queryset.db) else None
        if parts is None:
            yield from super().__iter__()
            return
        for part in parts:
            yield from ModelIterable(part, self.chunked_fetch, self.chunk_size)


def batched(queryset: QuerySet[Any], *, own: bool = False) -> QuerySet[Any]:
    """``queryset`` reading its rows with :class:`BatchedModelIterable`.

    A copy, unless ``own`` says the queryset was just built here and nobody else holds it.
    """
    if queryset._iterable_class is not ModelIterable:
        return queryset  # a user's own iterable class is kept
    copy: QuerySet[Any] = queryset if own else queryset._chain()  # type: ignore[attr-defined]
    copy._iterable_class = BatchedModelIterable
    return copy


#: Where an ``IN`` lookup sits in a WHERE tree: child indexes from the root node.
_Path: TypeAlias = "tuple[int, ...]"

_DIRECT_VALUES = (list, tuple, set, frozenset)


def parameter_limit(alias: str) -> int | None:
    """How many parameters one query may carry on the database ``alias`` (``None``: no limit)."""
    connection = connections[alias]
    if connection.vendor == "sqlite" and hasattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER"):
        # Django 4.2 and 5.2 report SQLite's historical default (999); ask the library.
        connection.ensure_connection()
        getlimit = getattr(connection.connection, "getlimit", None)
        if getlimit is not None:
            return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    limit = connection.features.max_query_params
    return int(limit) if limit else None


def _may_batch(alias: str) -> bool:
    """Whether a prefetch read on the database ``alias`` may need batches: no for a backend
    with no parameter limit that writes a tuple ``IN`` as such (PostgreSQL, MySQL), whose
    rows are then read as Django reads them, the query unexamined."""
    connection = connections[alias]
    key = (alias, connection.vendor)
    found = _MAY_BATCH.get(key)
    if found is None:
        found = _MAY_BATCH[key] = bool(
            connection.vendor == "sqlite"
            or connection.features.max_query_params
            or (_TupleIn is not None and not connection.features.supports_tuple_lookups)
        )
    return found


_MAY_BATCH: dict[tuple[str, str], bool] = {}


def _batches(queryset: QuerySet[Any]) -> list[QuerySet[Any]] | None:
    """``queryset`` split on its last ``IN`` list into queries under the limit, if needed."""
    where: WhereNode = queryset.query.where
    found = _last_in(where)
    if found is None:
        return None
    path, lookup = found
    chained = _or_chained(queryset, lookup)
    if chained:
        return chained
    limit = parameter_limit(queryset.db)
    if limit is None or _in_values(where) <= limit // 2:
        return None
    values = _distinct(lookup.rhs)
    if len(values) < 2 or any(isinstance(value, tuple) for value in values):
        return None  # nothing to split, or a key of several columns
    one = _count_params(_with_values(queryset, path, lookup, values[:1]))
    each = _count_params(_with_values(queryset, path, lookup, values[:2])) - one
    fixed = one - each
    if each < 1 or fixed + each * len(values) <= limit:
        return None
    size = (limit - fixed) // each
    if size < 1:
        return None  # the rest of the query alone is over the limit: Django reports it
    return [
        _with_values(queryset, path, lookup, values[start : start + size])
        for start in range(0, len(values), size)
    ]


def _tuple_in() -> Any:
    """Django's ``TupleIn`` (5.2 and later: how a forward relation's prefetch filters its
    targets), or ``None``."""
    try:
        from django.db.models.fields import tuple_lookups
    except ImportError:  # Django 4.2
        return None
    return tuple_lookups.TupleIn


_TupleIn: Any = _tuple_in()


#: Keys one ``IN`` may hold where the backend spells a tuple ``IN`` as a chain of ``OR``
#: (Django 5.2 and later filters a forward relation's prefetch so; SQLite refuses an
#: expression more than 1000 deep, as a chain of about a thousand keys is).
OR_CHAIN = 500


def _or_chained(queryset: QuerySet[Any], lookup: Any) -> list[QuerySet[Any]] | None:
    """``queryset`` split into queries of :data:`OR_CHAIN` keys, where its ``IN`` list is
    a tuple ``IN`` the backend writes as ``OR``s, and too long for that."""
    if _TupleIn is None or not isinstance(lookup, _TupleIn):
        return None
    if connections[queryset.db].features.supports_tuple_lookups:
        return None
    path = _last_in(queryset.query.where)
    values = _distinct(lookup.rhs)
    if path is None or len(values) <= OR_CHAIN:
        return None
    return [
        _with_values(queryset, path[0], lookup, values[start : start + OR_CHAIN])
        for start in range(0, len(values), OR_CHAIN)
    ]


def _last_in(node: WhereNode, path: _Path = ()) -> tuple[_Path, Any] | None:
    """The last ``IN`` lookup with a list of values that every row must satisfy.

    Django adds a prefetch's ``IN`` filter after the conditions of the queryset, so the
    last one is the filter on the parent keys.
    """
    if node.negated or (node.connector != AND and len(node.children) > 1):
        return None
    found: tuple[_Path, Any] | None = None
    for index, child in enumerate(node.children):
        if isinstance(child, WhereNode):
            found = _last_in(child, (*path, index)) or found
        elif _splittable(child):
            found = ((*path, index), child)
    return found


def _splittable(child: object) -> bool:
    return isinstance(child, In) and isinstance(child.rhs, _DIRECT_VALUES)


def _in_values(node: WhereNode) -> int:
    """How many values the ``IN`` lists of a WHERE tree hold, at most."""
    total = 0
    for child in node.children:
        if isinstance(child, WhereNode):
            total += _in_values(child)
        elif isinstance(child, In) and isinstance(child.rhs, _DIRECT_VALUES):
            total += len(child.rhs)
    return total


def _distinct(values: Iterable[Any]) -> list[Any]:
    """The values an ``IN`` list sends, as Django sends them: no ``None``, no repeats."""
    present = [value for value in values if value is not None]
    try:
        return list(dict.fromkeys(present))
    except TypeError:  # unhashable values
        return present


def _with_values(
    queryset: QuerySet[Any], path: _Path, lookup: Any, values: list[Any]
) -> QuerySet[Any]:
    """A copy of ``queryset`` whose ``IN`` lookup at ``path`` holds ``values`` only."""
    part: QuerySet[Any] = queryset._chain()  # type: ignore[attr-defined]
    part._iterable_class = ModelIterable
    node: Any = part.query.where  # a copy: cloning the query copies its WHERE tree
    for index in path[:-1]:
        node = node.children[index]
    node.children[path[-1]] = type(lookup)(lookup.lhs, values)
    return part


def _count_params(queryset: QuerySet[Any]) -> int:
    _, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return len(params)
