"""The planner's walk state: where it stands, the relations found so far, its warnings.

A :class:`Draft` is a relation (or the root) while a plan is being built; ``freeze``
turns the drafts into the immutable :class:`~drf_autoprefetch.tree.Relation` tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.db.models.fields.reverse_related import ManyToOneRel, OneToOneRel

from drf_autoprefetch.columns import (
    ColumnChoice,
    Pruning,
    choose,
    column_name,
    in_field_order,
    link_columns,
    prunes,
    relation_field,
)
from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.modelinfo import Attr, runs_code_on_load
from drf_autoprefetch.tree import Conditions, Kind, Relation, also_read

__all__ = [
    "Draft",
    "Freezing",
    "Walk",
    "Warnings",
    "find",
    "fold_back_references",
    "freeze_all",
    "leave_alone",
    "splittable",
    "warning_text",
]

#: How many field paths a grouped warning names before it says "and N more".
_SHOWN_PATHS = 3
#: How many serializers a grouped warning names.
_SHOWN_SERIALIZERS = 5


@dataclass(frozen=True)
class Walk:
    """Where the planner stands: for messages and to stop self-nesting serializers."""

    serializer: str
    path: str = ""
    stack: tuple[type, ...] = ()

    def enter(self, name: str) -> Walk:
        return Walk(self.serializer, f"{self.path}.{name}" if self.path else name, self.stack)

    def where(self) -> str:
        return f"{self.serializer}.{self.path}" if self.path else self.serializer


@dataclass
class Warnings:
    """Warnings grouped by cause: one message, with every field path it affects."""

    paths: dict[str, list[str]] = field(default_factory=dict)
    #: The ``@hints(...)`` line that would plan what a warning's code reads, where known.
    hints: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, message: str, hint: str | None = None) -> None:
        paths = self.paths.setdefault(message, [])
        if where not in paths:
            paths.append(where)
        if hint is not None:
            self.hints.setdefault(message, hint)

    def suggestions(self) -> tuple[tuple[str, str], ...]:
        return tuple((self.text_of(message), hint) for message, hint in self.hints.items())

    def texts(self) -> tuple[str, ...]:
        return tuple(_text(paths, message) for message, paths in self.paths.items())

    def causes(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((message, tuple(paths)) for message, paths in self.paths.items())

    def text_of(self, message: str) -> str:
        return _text(self.paths[message], message)


def warning_text(paths: Sequence[str], message: str) -> str:
    """A warning as plans and checks word it: the field paths, then the message."""
    return _text(paths, message)


def _text(paths: Sequence[str], message: str) -> str:
    shown = ", ".join(paths[:_SHOWN_PATHS])
    if len(paths) > _SHOWN_PATHS:
        roots = list(dict.fromkeys(path.split(".", 1)[0] for path in paths))
        shown += f" and {len(paths) - _SHOWN_PATHS} more (in {_listed(roots)})"
    return f"{shown}: {message}"


def _listed(names: list[str]) -> str:
    if len(names) <= _SHOWN_SERIALIZERS:
        return ", ".join(names)
    rest = len(names) - _SHOWN_SERIALIZERS
    return f"{', '.join(names[:_SHOWN_SERIALIZERS])} and {rest} other serializers"


#: What spares every read of the serializer being walked, one that code builds behind
#: guards (see :func:`guarded`); empty: nothing does.
_GUARD: ContextVar[frozenset[str]] = ContextVar("drf_autoprefetch_guard", default=frozenset())


@contextmanager
def guarded(names: frozenset[str]) -> Iterator[None]:
    """Within it, every relation the walk reaches is read only where none of ``names``
    is provided (see :data:`~drf_autoprefetch.tree.Conditions`), as well as where it
    would be otherwise: a serializer built in code behind guards."""
    token = _GUARD.set(_GUARD.get() | names)
    try:
        yield
    finally:
        _GUARD.reset(token)


class Draft:
    """A relation (or the root) while the plan is being built."""

    def __init__(
        self,
        model: type[Model] | None,
        kind: Kind | None = None,
        attr: str = "",
        lookup: str = "",
        spec: Attr | None = None,
    ) -> None:
        self.model = model
        self.kind = kind
        self.attr = attr
        self.lookup = lookup
        self.id_columns = spec.id_columns if spec is not None else None
        self.plain = spec.plain if spec is not None else False
        self.loose = spec.loose if spec is not None else False
        self.children: dict[str, Draft] = {}
        self.annotations: dict[str, Any] = {}
        self.queryset: Any = None
        #: Who declared ``queryset`` (``"Serializer.get_name"``), for messages.
        self.queryset_owner = ""
        #: Serializer fields reading this relation through their ``source``.
        self.readers: list[str] = []
        self.rows_read = False  # something reads more than primary keys
        self.parent: Draft | None = None
        #: Where the relation was inferred from, when only inferred code reads it.
        self.origin: str | None = None
        #: What, provided on the rows, spares the inferred code's reads of it (see
        #: :data:`~drf_autoprefetch.tree.Conditions`); ``None`` where a read is not spared.
        self.unless: Conditions = None
        #: Columns of these rows that fields read (names or attnames).
        self.reads: set[str] = set()
        #: Code whose reads are not known gets these rows: no column may be left out.
        self.whole_row = False
        #: Code the planner cannot see into gets these rows: it may read through any
        #: relation below them, whose columns then all load too.
        self.opaque = False

    @property
    def to_many(self) -> bool:
        return self.kind is Kind.PREFETCH

    @property
    def is_root(self) -> bool:
        return self.kind is None

    def relation(
        self,
        name: str,
        attr: Attr,
        lookup: str | None = None,
        origin: str | None = None,
        unless: Conditions = None,
    ) -> Draft:
        """The child draft ``name``, made if new. ``origin`` says it is only inferred; a
        relation a field or a hint reads too is not marked as inferred. ``unless``: what
        spares the inferred read (``None``: nothing)."""
        if origin is None:
            unless = None
        guard = _GUARD.get()
        if guard:
            unless = tuple(each | guard for each in unless) if unless else (guard,)
        child = self.children.get(name)
        if child is None:
            assert attr.kind is not None
            child = Draft(attr.model, attr.kind, name, lookup or name, attr)
            child.plain = child.plain or self.plain
            child.parent = self
            child.origin = origin
            child.unless = unless
            self.children[name] = child
        else:
            if origin is None:
                child.origin = None
            child.unless = also_read(child.unless, unless)
        return child

    def columns(self, mode: Pruning, link: Iterable[str] = ()) -> ColumnChoice:
        """What an ``only()`` of these rows keeps (``None``: it does not prune), and why:
        the columns read, the keys of the relations below and ``link`` (what relates the
        rows to their parent)."""
        if self.model is None:
            return ColumnChoice(None, "")
        if self.whole_row:
            return ColumnChoice(None, "all: code whose reads are not known gets these rows")
        kept = self._all_columns_kept()
        if kept is not None:
            return kept
        if self.queryset is not None:
            return ColumnChoice(None, "all: the queryset from hints decides")
        keys = set(link)
        for child in self.children.values():
            mine, _ = link_columns(self.model, child.lookup)
            keys.update(mine)
        return choose(self.model, self.reads, keys, mode)

    def _columns_of(self, kind: Kind, mode: Pruning, ids_only: bool) -> ColumnChoice:
        if ids_only and kind is Kind.PREFETCH:
            return self._keys_only(mode)
        if kind is Kind.JOIN or self.parent is None or self.parent.model is None:
            return ColumnChoice(None, "all: joined, they come with the parent's query")
        _, link = link_columns(self.parent.model, self.lookup)
        return self.columns(mode, link)

    def _keys_only(self, mode: Pruning) -> ColumnChoice:
        """The columns of a to-many relation whose rows are read for their keys only (a
        primary-key list): those keys, where pruning the rest pays."""
        if self.id_columns is None or self.model is None or mode is False:
            return ColumnChoice(None, "all: pruning is off")
        kept = self._all_columns_kept()
        if kept is not None:
            return kept
        names = in_field_order(self.model, (column_name(self.model, c) for c in self.id_columns))
        if not prunes(self.model, names, mode):
            return ColumnChoice(
                None, "all: only keys are read, but leaving out the rest does not pay"
            )
        return ColumnChoice(self.id_columns, "keys only: only primary keys are read")

    def _all_columns_kept(self) -> ColumnChoice | None:
        """Why every column of these rows loads whatever the fields read, if it must:
        code that may read any of them."""
        assert self.model is not None
        if runs_code_on_load(self.model):
            return ColumnChoice(
                None,
                "all: code of the model runs as each row loads (its __init__, from_db(), "
                "__getattr__ or a post_init receiver) and may read any column",
            )
        above = self.parent
        while above is not None:
            if above.opaque:
                return ColumnChoice(
                    None, "all: code the planner cannot see into gets the rows above these"
                )
            above = above.parent
        return None

    @property
    def path(self) -> str:
        """The relation's path from the root (``items__program``)."""
        names = []
        current: Draft | None = self
        while current is not None and not current.is_root:
            names.append(current.attr)
            current = current.parent
        return "__".join(reversed(names))

    @property
    def below_many(self) -> bool:
        """Whether a to-many relation holds this one (it is joined into a prefetch)."""
        current = self.parent
        while current is not None and not current.is_root:
            if current.kind is Kind.PREFETCH:
                return True
            current = current.parent
        return False

    def freeze(self, how: Freezing) -> Relation:
        assert self.kind is not None
        self._check_readers()
        mode = how.pruning
        if self.plain:
            return self._freeze_plain(how)
        kind = self.kind
        if kind is Kind.JOIN and (self.annotations or self.queryset is not None or self.loose):
            kind = Kind.PREFETCH_ONE
        split = kind is Kind.JOIN and self.path in how.split
        wide = kind is Kind.JOIN and self.path in how.wide
        if split or wide:
            kind = Kind.PREFETCH_ONE
        ids_only = not (self.rows_read or self.children or self.annotations or self.queryset)
        columns = self._columns_of(kind, mode, ids_only and how.exact)
        return Relation(
            attr=self.attr,
            lookup=self.lookup,
            model=self.model,
            kind=kind,
            children=freeze_all(self.children, how),
            split=split,
            wide=wide,
            annotations=tuple(sorted(self.annotations.items())),
            only=columns.only,
            columns_why=columns.why,
            queryset=self.queryset,
            user_queryset=self.queryset is not None,
            origin=self.origin,
            unless=self.unless or (),
        )

    def _freeze_plain(self, how: Freezing) -> Relation:
        warnings = how.warnings
        """A relation loaded by its plain lookup: no queryset of ours, below it either."""
        if self.annotations or self.queryset is not None or self.attr != self.lookup:
            where = self.readers[0] if self.readers else self.attr
            warnings.add(
                where,
                f"{self.lookup!r} is loaded by its plain lookup (its manager takes no custom "
                "queryset); hinted annotations and querysets on it or below it are left out.",
            )
            return Relation(self.lookup, self.lookup, self.model, Kind.PREFETCH, plain=True)
        kind = Kind.PREFETCH if self.kind is Kind.PREFETCH else Kind.PREFETCH_ONE
        children = freeze_all(self.children, how)
        return Relation(
            self.attr, self.lookup, self.model, kind, children, plain=True, origin=self.origin
        )

    def _check_readers(self) -> None:
        """A field must not read rows that a filtered ``Prefetch`` from hints replaced."""
        if self.queryset is None or self.attr != self.lookup or not self.readers:
            return
        raise PlanError(
            f"{self.readers[0]}: reads {self.attr!r}, which the hints of "
            f"{self.queryset_owner} prefetch with a queryset of their own; this field would "
            f"show only that queryset's rows. Give that Prefetch({self.lookup!r}) a to_attr."
        )


@dataclass(frozen=True)
class Freezing:
    """How drafts become relations: where warnings go, how columns are pruned, and the
    paths of the to-one relations below to-many ones to load by a query of their own."""

    warnings: Warnings
    pruning: Pruning = False
    split: frozenset[str] = frozenset()
    #: Whether the fields walked are exactly those rendered. A selection method's answer
    #: is trusted for relations, not for columns: a related row it wrongly says is read
    #: as keys only would load each of its columns by a query per row.
    exact: bool = True
    #: The paths of the joins loaded apart to keep each query within the databases'
    #: limits (:mod:`drf_autoprefetch.widths`).
    wide: frozenset[str] = frozenset()


def freeze_all(children: dict[str, Draft], how: Freezing) -> tuple[Relation, ...]:
    return tuple(children[name].freeze(how) for name in sorted(children))


def fold_back_references(draft: Draft) -> set[str]:
    """Drop each join back to the parent rows of a reverse foreign key's prefetch, where
    the parent rows can serve it, planning what it loads on the parent rows instead;
    return the root columns this made the root read.

    Django sets the foreign key of each row a reverse foreign key prefetches to the parent
    row it was read for (``line.order is order``), unless that row already holds one. A
    join of ``order`` into the lines' query would build one more copy of each order per
    line, for values the parent row holds: a field reading ``order.currency`` below
    ``lines`` reads it from the parent instead, which loads that column. Relations read
    through it (``source="parent.images"`` below ``children``) are the parent's own: they
    are loaded onto the parent rows, by the prefetch the parent level has or gets, as
    without the plan.
    """
    read: set[str] = set()
    for child in list(draft.children.values()):
        read |= fold_back_references(child)
    parent = draft.parent
    if draft.kind is not Kind.PREFETCH or draft.plain or parent is None or parent.model is None:
        return read
    back = draft.children.get(_back_link(parent.model, draft.lookup) or "")
    if back is None or not _served_by(back, parent.model) or not _mergeable(parent, back):
        return read
    del draft.children[back.attr]
    _merge_into(parent, back)
    return read | back.reads if parent.is_root else read


def _mergeable(target: Draft, source: Draft) -> bool:
    """Whether the relations of ``source`` can join those of ``target`` (rows of the same
    model) without two ways of loading one relation."""
    for name, child in source.children.items():
        mine = target.children.get(name)
        if mine is None:
            continue
        if (mine.kind, mine.model, mine.lookup) != (child.kind, child.model, child.lookup):
            return False
        if mine.queryset is not None or child.queryset is not None:
            return False
        if mine.annotations or child.annotations or not _mergeable(mine, child):
            return False
    return True


def _merge_into(target: Draft, source: Draft) -> None:
    """What ``source`` reads, read of ``target`` instead (see :func:`_mergeable`)."""
    target.reads |= source.reads
    target.whole_row = target.whole_row or source.whole_row
    target.opaque = target.opaque or source.opaque
    target.rows_read = target.rows_read or source.rows_read
    target.readers.extend(source.readers)
    for name, child in source.children.items():
        mine = target.children.get(name)
        if mine is None:
            child.parent = target
            target.children[name] = child
            continue
        if child.origin is None:
            mine.origin = None  # a field reads it, not only inferred code
        mine.unless = also_read(mine.unless, child.unless)
        _merge_into(mine, child)


def leave_alone(root: Draft, marks: Iterable[tuple[str, str | None, bool]]) -> None:
    """Drop the relations some code reads the loading of: ``(path of their parent, name
    or None for every one, to-many or to-one)``. Loading such a relation would change
    what that code returns; the parent keeps the key columns that load it later."""
    for path, name, many in marks:
        parent = find(root, path) if path else root
        if parent is None or parent.model is None:
            continue
        for child in list(parent.children.values()):
            if name is not None and name not in (child.attr, child.lookup):
                continue
            if (child.kind is Kind.PREFETCH) is not many:
                continue
            keys, _ = link_columns(parent.model, child.lookup)
            parent.reads |= keys
            del parent.children[child.attr]


def _back_link(model: type[Model], lookup: str) -> str | None:
    """The name of the foreign key a reverse foreign key ``lookup`` of ``model`` follows."""
    field: Any = relation_field(model, lookup)
    if not isinstance(field, ManyToOneRel) or isinstance(field, OneToOneRel):
        return None
    return str(field.field.name)


def _served_by(back: Draft, model: type[Model]) -> bool:
    """Whether the parent rows of ``model`` serve what ``back`` loads: a plain join to
    ``model`` or to a model it inherits from (Django sets the parent row itself, of
    ``model``, as the key's object)."""
    return (
        back.kind is Kind.JOIN
        and back.model is not None
        and issubclass(model, back.model)
        and back.attr == back.lookup
        and not (back.annotations or back.plain or back.loose)
        and back.queryset is None
    )


def splittable(root: Draft) -> list[str]:
    """The paths of the to-one relations below to-many ones that a join loads now: the
    ones a serializer may ask to load by a query of their own."""
    found = []
    stack = list(root.children.values())
    while stack:
        draft = stack.pop()
        if draft.kind is Kind.JOIN and draft.below_many and not draft.plain:
            found.append(draft.path)
        stack.extend(draft.children.values())
    return sorted(found)


def find(root: Draft, path: str) -> Draft | None:
    current: Draft | None = root
    for name in path.split("__"):
        current = current.children.get(name) if current is not None else None
    return current
