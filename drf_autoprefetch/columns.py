"""Column pruning: which columns of a model's rows a plan loads, and when pruning pays.

A plan prunes the columns of a query (``.only()``) where every reader of its rows is
known: the declared fields, and hints that list the columns their code reads (``only=``).
It keeps the keys Django needs to join and to match prefetched rows to their parents,
and the model's ``Meta.ordering`` columns.

Pruning is not free: Django builds deferred instances more slowly, so dropping one narrow
column makes a query slower. By default (``DRF_AUTOPREFETCH["PRUNE_COLUMNS"] = "auto"``)
a query is pruned only where it drops a column that is costly to read (large text,
binary, JSON, a timestamp) or most of a wide row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import models
from django.db.models import Model

__all__ = [
    "HEAVY_FIELDS",
    "WIDE_ROW",
    "ColumnChoice",
    "Pruning",
    "choose",
    "column_name",
    "in_field_order",
    "link_columns",
    "prunes",
    "to_load",
]

#: How a plan prunes columns: by the cost model, wherever it can, or never.
Pruning = Literal["auto", True, False]

#: Field classes whose values cost more to read than a key does: dropping one pays.
HEAVY_FIELDS: tuple[type[models.Field[Any, Any]], ...] = (
    models.TextField,
    models.BinaryField,
    models.JSONField,
    models.DateTimeField,
)
#: Type names of fields outside Django's core with large values (PostgreSQL's).
_HEAVY_NAMES = frozenset({"ArrayField", "HStoreField", "SearchVectorField"})

#: Dropping at least this many columns, and at least half the row, pays whatever they are.
WIDE_ROW = 8


def _heavy(field: Any) -> bool:
    return isinstance(field, HEAVY_FIELDS) or type(field).__name__ in _HEAVY_NAMES


def column_name(model: type[Model], name: str) -> str:
    """The field name of the column ``name`` (an attname allowed); ``name`` if none."""
    return _name(model, name) or name


def _name(model: type[Model], name: str) -> str | None:
    """The field name of a column ``name`` (``pk`` or an attname allowed), or ``None``."""
    if name == "pk":
        return str(model._meta.pk.name)
    try:
        field: Any = model._meta.get_field(name)
    except Exception:
        return None
    return field.name if getattr(field, "concrete", False) else None


def link_columns(parent: type[Model], lookup: str) -> tuple[set[str], set[str]]:
    """The columns a relation needs loaded: on the parent's rows and on the related ones.

    A forward key needs its column on the parent and the target's key; a reverse key,
    the parent's key and the child's foreign key; a many-to-many relation, both keys; a
    generic foreign key, its two columns.
    """
    pk = parent._meta.pk.name
    field: Any = relation_field(parent, lookup)
    if field is None:
        return {pk}, set()
    related: Any = field.related_model
    related_pk = {related._meta.pk.name} if related is not None else set()
    if hasattr(field, "ct_field") and hasattr(field, "fk_field"):  # GenericForeignKey
        return {field.ct_field, field.fk_field}, set()
    if hasattr(field, "object_id_field_name"):  # GenericRelation
        return {pk}, {field.object_id_field_name, field.content_type_field_name, *related_pk}
    if field.many_to_many:
        return {pk}, related_pk
    if field.auto_created and not field.concrete:  # reverse foreign key or one-to-one
        remote = field.field
        return {remote.target_field.name}, {remote.name, *related_pk}
    return {field.name}, {field.target_field.name}


def relation_field(model: type[Model], name: str) -> Any:
    """The field or reverse relation ``name`` (a field name or an accessor) of ``model``."""
    for field in model._meta.get_fields(include_hidden=True):
        accessor = getattr(field, "get_accessor_name", None)
        if field.name == name or (accessor is not None and accessor() == name):
            return field
    return None


def ordering_columns(model: type[Model]) -> set[str]:
    """The model's own columns named by ``Meta.ordering``."""
    found = set()
    for item in model._meta.ordering or ():
        if not isinstance(item, str):
            continue
        name = _name(model, item.lstrip("-+"))
        if name is not None:
            found.add(name)
    return found


def to_load(model: type[Model], reads: Iterable[str], keys: Iterable[str]) -> tuple[str, ...]:
    """The columns of ``model`` to load: what is read, the keys, the ordering, the primary
    key and every foreign key; sorted in the model's field order."""
    # Keys are narrow and code outside the serializer reads them (permission checks on an
    # owner, a polymorphic model's content type, a parent link): always loaded.
    keys_of_row = {field.name for field in model._meta.concrete_fields if field.is_relation}
    wanted = {model._meta.pk.name, *keys, *ordering_columns(model), *keys_of_row}
    for read in reads:
        name = _name(model, read)
        if name is not None:
            wanted.add(name)
    return in_field_order(model, wanted)


def in_field_order(model: type[Model], names: Iterable[str]) -> tuple[str, ...]:
    """The column names ``names`` in ``model``'s field order."""
    wanted = set(names)
    return tuple(field.name for field in model._meta.concrete_fields if field.name in wanted)


@dataclass(frozen=True)
class ColumnChoice:
    """The columns a query loads (``None``: all of them), and why, for ``--explain``."""

    only: tuple[str, ...] | None
    why: str


def choose(
    model: type[Model], reads: Iterable[str], keys: Iterable[str], mode: Pruning
) -> ColumnChoice:
    """Whether to prune ``model``'s rows, whose readers read ``reads``, to what they read
    and ``keys``; and why."""
    loaded = to_load(model, reads, keys)
    dropped = [field for field in model._meta.concrete_fields if field.name not in loaded]
    named = ", ".join(f"{field.name} ({type(field).__name__})" for field in dropped)
    if not dropped:
        return ColumnChoice(None, "all: every column is read")
    if mode is False:
        return ColumnChoice(None, "all: pruning is off")
    if not prunes(model, loaded, mode):
        return ColumnChoice(None, f"all: leaving out {named} does not pay")
    return ColumnChoice(loaded, f"only {', '.join(loaded)}; leaves out {named}")


def prunes(model: type[Model], loaded: tuple[str, ...], mode: Pruning) -> bool:
    """Whether loading only ``loaded`` of ``model``'s columns is worth an ``only()``."""
    if mode is False:
        return False
    kept = set(loaded)
    dropped = [field for field in model._meta.concrete_fields if field.name not in kept]
    if not dropped:
        return False
    if mode is True:
        return True
    columns = len(model._meta.concrete_fields)
    return any(_heavy(field) for field in dropped) or (
        len(dropped) >= WIDE_ROW and 2 * len(dropped) >= columns
    )
