"""The plan: an immutable tree of the relations a serializer reads.

A :class:`Plan` is a value. It holds no QuerySet of its own making: the
``Prefetch`` objects it exposes are built on demand by :mod:`drf_autoprefetch.apply`.
Imports go one way: planner -> plan -> apply -> tree.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.db.models import Model

from drf_autoprefetch import apply
from drf_autoprefetch.columns import in_field_order
from drf_autoprefetch.tree import (
    Kind,
    Relation,
    conditions_of,
    join_paths,
    label,
    merge_relations,
    union,
    without_spared,
)

if TYPE_CHECKING:
    from django.db.models import Prefetch, QuerySet  # noqa: TID251 - types only

__all__ = ["Kind", "Missing", "Plan", "Relation"]


@dataclass(frozen=True)
class Missing:
    """A field whose ``source`` names nothing on the model of its rows.

    Fine when the queryset the plan is applied to provides ``name``: an annotation, a
    ``Prefetch(to_attr=...)``, an attribute the view set on the rows it holds, or, below
    a relation, what its ``Prefetch`` queryset carries (``name`` is then the lookup path,
    ``levels__sold``). Otherwise ``fatal`` ones (DRF itself would fail to render them)
    raise ``message``; the others are warnings.
    """

    name: str
    message: str
    fatal: bool
    #: The field path (``BookSerializer.levels.sold``), for the warning it becomes where
    #: the queryset is not known.
    where: str = ""
    #: For a fatal one, the warning it is where the queryset is not known.
    warning: str = ""


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
    #: Root fields naming nothing on the model: see :class:`Missing`.
    unresolved: tuple[Missing, ...] = ()
    #: Root columns the serializer's fields read (kept loaded under ``only()``/``defer()``).
    columns: tuple[str, ...] = field(default=(), compare=False)
    #: The warnings by cause: each message with the field paths it affects.
    causes: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)
    #: ``(warning, hint)``: the ``@hints(...)`` line that would plan what a warning's code
    #: reads, where the planner can tell (``prefetch_plans --suggest``).
    suggestions: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    #: Why ``only`` is what it is (``prefetch_plans --explain``).
    columns_why: str = field(default="", compare=False)
    #: Who decides how the to-one relations below to-many ones load: ``"auto"`` (the
    #: loading cost model), ``False`` (the plan as it is) or ``None`` (the ``SPLIT``
    #: setting); from the serializer's ``autoprefetch_split``.
    splitting: str | bool | None = field(default=None, compare=False)
    #: Names that, provided on the queryset's rows (a ``to_attr``, an annotation, a
    #: relation it loads), spare reads of code behind guards (see :meth:`spared_by`).
    conditions: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def select_related(self) -> tuple[str, ...]:
        """The root query's ``select_related`` paths, longest chains folded in."""
        return join_paths(self.relations)

    @property
    def prefetches(self) -> tuple[Prefetch[Any] | str, ...]:
        """The root query's ``Prefetch`` objects, each carrying its nested plan."""
        return apply.build_prefetches(self.relations)

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
        """A new QuerySet with this plan merged into what ``queryset`` already has.

        An evaluated QuerySet (or a list of instances) is returned as it is, with the
        plan prefetched onto the rows it holds.
        """
        result: QuerySet[Any] = apply.apply_plan(queryset, self)
        return result

    def __or__(self, other: object) -> Plan:
        if not isinstance(other, Plan):
            return NotImplemented
        if other.model is not self.model:
            raise ValueError(
                f"Cannot merge a plan for {label(other.model)} into a plan for {label(self.model)}."
            )
        only = None
        if self.only is not None and other.only is not None:
            only = in_field_order(self.model, union(self.only, other.only))
        relations = merge_relations(self.relations, other.relations)
        return Plan(
            model=self.model,
            relations=relations,
            annotation_items=tuple(dict(self.annotation_items + other.annotation_items).items()),
            warnings=union(self.warnings, other.warnings),
            only=only,
            unresolved=union(self.unresolved, other.unresolved),
            columns=union(self.columns, other.columns),
            causes=union(self.causes, other.causes),
            suggestions=union(self.suggestions, other.suggestions),
            splitting=self.splitting if self.splitting == other.splitting else None,
            conditions=conditions_of(relations),
        )

    def provided(self, names: Container[str]) -> Plan:
        """This plan where the queryset provides ``names``: their warnings dropped."""
        found = [missing for missing in self.unresolved if missing.name in names]
        if not found:
            return self
        drop = {missing.message for missing in found}
        kept = [index for index, warning in enumerate(self.warnings) if warning not in drop]
        return replace(
            self,
            warnings=tuple(self.warnings[index] for index in kept),
            causes=tuple(self.causes[index] for index in kept if index < len(self.causes)),
            suggestions=tuple(pair for pair in self.suggestions if pair[0] not in drop),
            unresolved=tuple(missing for missing in self.unresolved if missing not in found),
        )

    def spared_by(self, provided: frozenset[str]) -> Plan:
        """This plan for a queryset providing ``provided`` (names of :attr:`conditions`):
        without the relations only code behind a guard reads, where the rows provide
        what that guard asks about (``if hasattr(obj, "n"): return obj.n``, an
        annotation; ``"items" in obj.__dict__``, a ``to_attr``): that code never reads
        them there."""
        relations = without_spared(self.relations, provided)
        if relations == self.relations:
            return self
        return replace(self, relations=relations, conditions=conditions_of(relations))

    def unseen(self, missing: Sequence[Missing]) -> Plan:
        """This plan where the queryset, which may provide the ``missing`` names, is not
        known: each of them a warning instead of an error."""
        texts = tuple(f"{each.where}: {each.warning}" for each in missing)
        return replace(
            self,
            warnings=(*self.warnings, *texts),
            causes=(*self.causes, *((each.warning, (each.where,)) for each in missing)),
            unresolved=tuple(each for each in self.unresolved if each not in missing),
        )

    def __str__(self) -> str:
        lines = [label(self.model)]
        if self.only is not None:
            lines.append(f"  only {', '.join(self.only)}")
        for name, _ in self.annotation_items:
            lines.append(f"  annotate {name}")
        lines.extend(_tree_lines(self.relations, "  "))
        lines.extend(f"  ! {warning}" for warning in self.warnings)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the same tree."""
        return {
            "model": label(self.model),
            "select_related": list(self.select_related),
            "annotations": [name for name, _ in self.annotation_items],
            "only": list(self.only) if self.only is not None else None,
            "queries": self.query_count,
            "relations": [relation.as_dict() for relation in self.relations],
            "warnings": list(self.warnings),
        }


def joins_first(relations: tuple[Relation, ...]) -> list[Relation]:
    """``relations`` with the joins of the level before the relations loaded by a query
    of their own, as the queries run (each group keeps its order)."""
    return sorted(relations, key=lambda relation: relation.opens_query)


def _tree_lines(relations: tuple[Relation, ...], indent: str) -> list[str]:
    lines: list[str] = []
    for relation in joins_first(relations):
        lines.append(f"{indent}{relation.describe()}")
        lines.extend(_tree_lines(relation.children, indent + "  "))
    return lines
