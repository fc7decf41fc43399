"""The plan: an immutable tree of the relations a serializer reads.

A :class:`Plan` is a value. It holds no QuerySet of its own making: the
``Prefetch`` objects it exposes are built on demand by :mod:`drf_autoprefetch.apply`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Model

if TYPE_CHECKING:
    from django.db.models import Prefetch, QuerySet  # noqa: TID251 - types only

__all__ = ["Kind", "Plan", "Relation"]

_T = TypeVar("_T")


class Kind(enum.Enum):
    """How a relation is loaded."""

    #: A single-valued relation joined into its parent's query (``select_related``).
    JOIN = "select"
    #: A to-many relation loaded by one extra query (``Prefetch``).
    PREFETCH = "prefetch"
    #: A single-valued relation loaded by its own query, because its queryset needs
    #: annotations or a queryset of the user's that a join cannot carry.
    PREFETCH_ONE = "prefetch-one"
    #: A generic foreign key: one query per content type.
    GENERIC = "generic"


def _label(model: type[Model] | None) -> str:
    return "?" if model is None else model._meta.label


@dataclass(frozen=True)
class Relation:
    """One relation in the tree, reached from its parent's model.

    ``attr`` is the instance attribute the related rows land on (the accessor name,
    or a ``to_attr``); ``lookup`` is the relation the rows come through.
    """

    attr: str
    lookup: str
    model: type[Model] | None
    kind: Kind
    children: tuple[Relation, ...] = ()
    annotations: tuple[tuple[str, Any], ...] = ()
    #: Columns to load when only primary keys are read (``many=True`` pk lists).
    only: tuple[str, ...] | None = None
    #: A queryset supplied through ``hints`` (a filtered ``Prefetch``): authoritative.
    queryset: Any = field(default=None, compare=False)
    #: ``True`` when ``queryset`` came from the user (compared instead of the queryset).
    user_queryset: bool = False

    @property
    def to_attr(self) -> str | None:
        return None if self.attr == self.lookup else self.attr

    @property
    def opens_query(self) -> bool:
        """Whether this relation is loaded by a query of its own."""
        return self.kind is not Kind.JOIN

    def walk(self) -> Iterator[Relation]:
        yield self
        for child in self.children:
            yield from child.walk()

    def with_children(self, children: tuple[Relation, ...]) -> Relation:
        return replace(self, children=children)

    def describe(self) -> str:
        text = f"{self.kind.value} {self.lookup}"
        if self.to_attr:
            text += f" as {self.to_attr}"
        text += f" ({_label(self.model)})"
        if self.user_queryset:
            text += " [queryset from hints]"
        if self.only is not None:
            text += f" only {', '.join(self.only)}"
        if self.annotations:
            text += f" annotate {', '.join(name for name, _ in self.annotations)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "lookup": self.lookup,
            "to_attr": self.to_attr,
            "model": _label(self.model),
            "only": list(self.only) if self.only is not None else None,
            "annotations": [name for name, _ in self.annotations],
            "queryset_from_hints": self.user_queryset,
            "relations": [child.as_dict() for child in self.children],
        }


def join_paths(relations: tuple[Relation, ...], prefix: str = "") -> tuple[str, ...]:
    """The ``select_related`` paths of one query: longest chains of joins only."""
    paths: list[str] = []
    for relation in relations:
        if relation.kind is not Kind.JOIN:
            continue
        path = f"{prefix}{relation.attr}"
        deeper = join_paths(relation.children, f"{path}__")
        paths.extend(deeper or (path,))
    return tuple(paths)


def merge_relations(
    left: tuple[Relation, ...], right: tuple[Relation, ...]
) -> tuple[Relation, ...]:
    """Union of two relation lists, merged by attribute name, in a stable order."""
    merged: dict[str, Relation] = {relation.attr: relation for relation in left}
    for relation in right:
        mine = merged.get(relation.attr)
        merged[relation.attr] = relation if mine is None else _merge_one(mine, relation)
    return tuple(sorted(merged.values(), key=lambda relation: relation.attr))


def _merge_one(mine: Relation, theirs: Relation) -> Relation:
    kinds = {mine.kind, theirs.kind}
    kind = mine.kind if len(kinds) == 1 else _stronger(kinds)
    only = None if mine.only is None or theirs.only is None else _union(mine.only, theirs.only)
    user = mine if mine.user_queryset else theirs
    return replace(
        mine,
        kind=kind,
        children=merge_relations(mine.children, theirs.children),
        annotations=tuple(dict(mine.annotations + theirs.annotations).items()),
        only=only,
        queryset=user.queryset,
        user_queryset=user.user_queryset,
    )


def _stronger(kinds: set[Kind]) -> Kind:
    for kind in (Kind.PREFETCH, Kind.GENERIC, Kind.PREFETCH_ONE):
        if kind in kinds:
            return kind
    return Kind.JOIN


def _union(left: tuple[_T, ...], right: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(left + right))


@dataclass(frozen=True)
class Plan:
    """What a serializer reads, as ``select_related`` joins and ``Prefetch`` queries.

    Built by :func:`drf_autoprefetch.plan_for`; immutable, comparable with ``==``,
    mergeable with ``|`` and safe to share between threads.
    """

    model: type[Model]
    relations: tuple[Relation, ...] = ()
    annotation_items: tuple[tuple[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None
    #: Root field names found nowhere on the model, with the error to raise unless the
    #: queryset the plan is applied to annotates them.
    unresolved: tuple[tuple[str, str], ...] = ()

    @property
    def select_related(self) -> tuple[str, ...]:
        """The root query's ``select_related`` paths, longest chains folded in."""
        return join_paths(self.relations)

    @property
    def prefetches(self) -> tuple[Prefetch[Any], ...]:
        """The root query's ``Prefetch`` objects, each carrying its nested plan."""
        from drf_autoprefetch.apply import build_prefetches

        return build_prefetches(self)

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Expressions added with ``.annotate()`` (from hints)."""
        return MappingProxyType(dict(self.annotation_items))

    @property
    def query_count(self) -> int:
        """Queries the plan runs for a non-empty result: the root plus one per prefetch.

        A generic foreign key counts once here; it runs one query per content type.
        """
        return 1 + sum(1 for top in self.relations for rel in top.walk() if rel.opens_query)

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """A new QuerySet with this plan merged into what ``queryset`` already has."""
        from drf_autoprefetch.apply import apply_plan

        return apply_plan(queryset, self)

    def __or__(self, other: object) -> Plan:
        if not isinstance(other, Plan):
            return NotImplemented
        if other.model is not self.model:
            raise ValueError(
                f"Cannot merge a plan for {_label(other.model)} into a plan for "
                f"{_label(self.model)}."
            )
        only = None if self.only is None or other.only is None else _union(self.only, other.only)
        return Plan(
            model=self.model,
            relations=merge_relations(self.relations, other.relations),
            annotation_items=tuple(dict(self.annotation_items + other.annotation_items).items()),
            warnings=_union(self.warnings, other.warnings),
            only=only,
            unresolved=_union(self.unresolved, other.unresolved),
        )

    def __str__(self) -> str:
        lines = [_label(self.model)]
        for name, _ in self.annotation_items:
            lines.append(f"  annotate {name}")
        lines.extend(_tree_lines(self.relations, "  "))
        lines.extend(f"  ! {warning}" for warning in self.warnings)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the same tree."""
        return {
            "model": _label(self.model),
            "select_related": list(self.select_related),
            "annotations": [name for name, _ in self.annotation_items],
            "only": list(self.only) if self.only is not None else None,
            "queries": self.query_count,
            "relations": [relation.as_dict() for relation in self.relations],
            "warnings": list(self.warnings),
        }


def _tree_lines(relations: tuple[Relation, ...], indent: str) -> list[str]:
    lines: list[str] = []
    for relation in relations:
        lines.append(f"{indent}{relation.describe()}")
        lines.extend(_tree_lines(relation.children, indent + "  "))
    return lines
