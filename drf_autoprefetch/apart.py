"""Loading a to-one relation apart, with one query for the distinct rows it points to.

A foreign key below a to-many relation that the plan loads by a query of its own
(``autoprefetch_split``, or the loading cost model) could be a nested ``Prefetch``:
Django would then walk every child row twice more (to collect the keys and to match the
results back) through its generic machinery, a few microseconds a row, which is most of
what not joining saves. Here the prefetch that reads the child rows loads the related
rows itself as soon as it has them: the distinct keys, one query filtered on them, and
each row's cache set from a dictionary.

The rows and instances are the ones Django's prefetch would give: the related model's
base manager (as Django's descriptor uses), the same hints for the database router, a
row whose key is ``NULL`` or points to no row holds ``None``, a row already holding the
relation keeps it. A key of several columns is left to Django's own prefetch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import ForeignKey, Model, QuerySet

__all__ = ["Apart", "apart_field", "loading_apart"]


def apart_field(model: type[Model], name: str) -> ForeignKey[Any, Any] | None:
    """The foreign key ``name`` of ``model`` if its rows can be loaded apart here: a
    plain many-to-one key of one column, to a column that is not itself a relation."""
    try:
        field = model._meta.get_field(name)
    except Exception:  # a name Django resolves some other way: leave it to Django
        return None
    if not isinstance(field, ForeignKey) or field.one_to_one or not field.concrete:
        return None
    if len(field.foreign_related_fields) != 1 or field.target_field.is_relation:
        return None
    return field


@dataclass(frozen=True)
class Apart:
    """One relation loaded apart: the key of the child rows, the queryset of the related
    rows (the plan below it applied, not yet filtered on the keys), kept for every request,
    and how a request copies it (with its prefetches' querysets, whose hints Django sets)."""

    field: ForeignKey[Any, Any]
    queryset: QuerySet[Any]
    fresh: Callable[[QuerySet[Any]], QuerySet[Any]]

    def load(self, rows: Sequence[Model]) -> None:
        """Set the related row of every row in ``rows`` that lacks it."""
        field = self.field
        attname = field.attname
        todo = [row for row in rows if not field.is_cached(row)]
        keys = {getattr(row, attname) for row in todo}
        keys.discard(None)
        found = self._related(todo[0], keys) if keys else {}
        for row in todo:
            field.set_cached_value(row, found.get(getattr(row, attname)))

    def _related(self, first: Model, keys: set[Any]) -> dict[Any, Model]:
        target = self.field.target_field
        # A copy of its own: the router's hints name this request's row.
        queryset = self.fresh(self.queryset)
        queryset._add_hints(instance=first)  # type: ignore[attr-defined]
        queryset = queryset.filter(**{f"{target.name}__in": keys})
        queryset.query.clear_ordering()  # one row per key: the order is not used
        return {getattr(row, target.attname): row for row in queryset}


def loading_apart(base: type[Any], loads: tuple[Apart, ...]) -> type[Any]:
    """An iterable class like ``base`` (the prefetch queryset's) that loads ``loads``
    onto the rows it reads, once it has read them all."""

    class ApartIterable(base):  # type: ignore[misc]
        def __iter__(self) -> Iterator[Any]:
            rows = list(super().__iter__())
            if rows:
                for load in loads:
                    load.load(rows)
            yield from rows

    ApartIterable.loads = loads
    return ApartIterable
