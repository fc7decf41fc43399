"""The relation tree a plan is made of: pure values, shared by planner and applier.

Nothing here builds a QuerySet or knows about serializers; :mod:`drf_autoprefetch.apply`
reads these values, :mod:`drf_autoprefetch.planner` makes them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias, TypeVar

from django.db.models import Model

__all__ = [
    "Conditions",
    "Kind",
    "PlanLike",
    "Relation",
    "also_read",
    "conditions_of",
    "join_paths",
    "joined_paths",
    "label",
    "merge_relations",
    "spared",
    "union",
    "without_spared",
]

_T = TypeVar("_T")

#: What spares the reads of a relation, for relations only code behind guards reads
#: (``if hasattr(obj, "n"): return obj.n`` before ``obj.items.count()``): one set of
#: lookup paths per read, the read spared where the rows provide any name of its set;
#: ``None`` where some read is made whatever the rows provide; ``()``: no read yet.
Conditions: TypeAlias = "tuple[frozenset[str], ...] | None"


def also_read(kept: Conditions, more: Conditions) -> Conditions:
    """The conditions of a relation read as ``kept`` says and, again, as ``more`` says."""
    if kept is None or more is None:
        return None
    return kept + tuple(each for each in more if each not in kept)


def joined_paths(select_related: Any, prefix: str = "") -> frozenset[str]:
    """The lookup paths a query's ``select_related`` dictionary joins (none for ``True``,
    Django's "every non-null foreign key", or ``False``)."""
    found: set[str] = set()
    if isinstance(select_related, dict):
        for name, below in select_related.items():
            found.add(f"{prefix}{name}")
            found |= joined_paths(below, f"{prefix}{name}__")
    return frozenset(found)


def spared(unless: tuple[frozenset[str], ...], provided: frozenset[str]) -> bool:
    """Whether every read of a relation whose conditions are ``unless`` is spared by the
    names ``provided`` (never for one read whatever is provided: ``()``)."""
    return bool(unless) and all(each & provided for each in unless)


def conditions_of(relations: tuple[Relation, ...]) -> frozenset[str]:
    """Every name that spares some read of ``relations`` (see :data:`Conditions`)."""
    return frozenset(
        name
        for top in relations
        for relation in top.walk()
        for each in relation.unless
        for name in each
    )


def without_spared(
    relations: tuple[Relation, ...], provided: frozenset[str]
) -> tuple[Relation, ...]:
    """``relations`` without those whose every read ``provided`` spares (and what is
    below them)."""
    kept = []
    for relation in relations:
        if spared(relation.unless, provided):
            continue
        children = without_spared(relation.children, provided)
        kept.append(relation if children == relation.children else relation.with_children(children))
    return tuple(kept)


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


def label(model: type[Model] | None) -> str:
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
    #: Loaded by its plain lookup: its manager takes no custom queryset (django-taggit's).
    plain: bool = False
    #: A to-one relation below a to-many one, loaded by a query of its own on request
    #: (``autoprefetch_split``) instead of joined into the prefetch.
    split: bool = False
    #: A single-valued relation loaded by a query of its own because joining it would
    #: make its parent's query wider than databases allow (:mod:`drf_autoprefetch.widths`).
    wide: bool = False
    #: Where the relation was inferred from (code read by the planner), if it was.
    origin: str | None = field(default=None, compare=False)
    #: What, provided on the rows of the queryset, spares every read of the relation
    #: (see :data:`Conditions`; ``()``: some read is made whatever is provided).
    unless: tuple[frozenset[str], ...] = field(default=(), compare=False)
    #: Why ``only`` is what it is (``prefetch_plans --explain``).
    columns_why: str = field(default="", compare=False)
    #: What the applier built for this relation, kept for the next request (not a value).
    memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

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
        text += f" ({label(self.model)})"
        if self.user_queryset:
            text += " [queryset from hints]"
        if self.plain:
            text += " [plain lookup]"
        if self.split:
            text += " [split]"
        if self.wide:
            text += " [wide query]"
        if self.origin:
            text += f" [{self.origin}]"
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
            "model": label(self.model),
            "only": list(self.only) if self.only is not None else None,
            "annotations": [name for name, _ in self.annotations],
            "queryset_from_hints": self.user_queryset,
            "plain": self.plain,
            "split": self.split,
            **({"wide": True} if self.wide else {}),
            "inferred_from": self.origin,
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


#: The memo keys of :func:`whole_rows` (no lookup path contains a space).
_WHOLE = "whole rows ?"
_WHOLE_ONE = "whole row ?"


def whole_rows(relations: tuple[Relation, ...]) -> tuple[Relation, ...]:
    """``relations`` loading every column of the rows they prefetch (no ``only``), for
    rows that code other than the serializer may read.

    The variant is kept with the first relation (for this very tuple), and each
    relation's with it, so that what the applier builds for them is kept too; where no
    relation prunes, ``relations`` itself.
    """
    if not relations:
        return relations
    memo = relations[0].memo
    kept = memo.get(_WHOLE)
    if kept is None or kept[0] is not relations:
        whole = tuple(_whole(relation) for relation in relations)
        if all(new is old for new, old in zip(whole, relations, strict=True)):
            whole = relations
        kept = memo[_WHOLE] = (relations, whole)
    result: tuple[Relation, ...] = kept[1]
    return result


def _whole(relation: Relation) -> Relation:
    kept = relation.memo.get(_WHOLE_ONE)
    if kept is None:
        children = whole_rows(relation.children)
        if relation.only is None and children is relation.children:
            kept = relation
        else:
            kept = replace(relation, only=None, children=children, columns_why="")
        relation.memo[_WHOLE_ONE] = kept
    assert isinstance(kept, Relation)
    return kept


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
    only = None if mine.only is None or theirs.only is None else union(mine.only, theirs.only)
    user = mine if mine.user_queryset else theirs
    unless = () if not (mine.unless and theirs.unless) else also_read(mine.unless, theirs.unless)
    return replace(
        mine,
        unless=unless or (),
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


def union(left: tuple[_T, ...], right: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(left + right))


class PlanLike(Protocol):
    """What the applier reads of a plan."""

    @property
    def model(self) -> type[Model]: ...

    @property
    def relations(self) -> tuple[Relation, ...]: ...

    @property
    def annotation_items(self) -> tuple[tuple[str, Any], ...]: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def only(self) -> tuple[str, ...] | None: ...

    @property
    def splitting(self) -> str | bool | None: ...
