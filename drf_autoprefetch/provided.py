"""What a queryset's rows carry beyond their model's fields: annotations, ``extra()``
selects, relations it joins or prefetches, the attributes of rows already read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_autoprefetch.tree import joined_paths

__all__ = ["provided_names", "query_names"]


def provided_names(queryset: Any) -> frozenset[str]:
    """Names the rows of ``queryset`` carry beyond the model: its annotations and
    ``extra()`` selects, the attributes its prefetches set (``to_attr``), what the
    querysets of its ``Prefetch`` objects carry (as lookup paths, ``levels__sold``), and
    the attributes of the first row when the rows are already read (a list, an evaluated
    QuerySet), such as values a view set on each row."""
    names = set(query_names(queryset))
    rows = queryset if isinstance(queryset, list) else getattr(queryset, "_result_cache", None)
    if rows is None:
        return frozenset(names)
    if rows:
        names.update(vars(rows[0]))
    return _HeldRows(names)


class _HeldRows(frozenset[str]):
    """The names rows already read carry: those of their own attributes, and any name
    below them, where what their prefetches hold is not looked into."""

    def __contains__(self, name: object) -> bool:
        return (isinstance(name, str) and "__" in name) or super().__contains__(name)


def query_names(queryset: Any, prefix: str = "") -> Iterator[str]:
    """The names ``queryset`` provides, below ``prefix``: see :func:`provided_names`."""
    query = getattr(queryset, "query", None)
    yield from (f"{prefix}{name}" for name in getattr(query, "annotations", None) or ())
    yield from (f"{prefix}{name}" for name in getattr(query, "extra", None) or ())
    yield from joined_paths(getattr(query, "select_related", None), prefix)
    for lookup in getattr(queryset, "_prefetch_related_lookups", None) or ():
        to = getattr(lookup, "prefetch_to", lookup)
        if not isinstance(to, str):
            continue
        yield f"{prefix}{to}"
        inner = getattr(lookup, "queryset", None)
        if inner is not None:
            yield from query_names(inner, f"{prefix}{to}__")
