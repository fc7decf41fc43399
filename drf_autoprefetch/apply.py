"""Applying a plan: the one module that turns plans into QuerySet calls.

Every ``Prefetch`` queryset starts from the related model's default manager, as
Django's related managers do (single-valued relations from the base manager, as
Django's descriptors do), so the optimized rows are the rows the unoptimized code
would have read. What the QuerySet already has is kept: a user's ``Prefetch`` at the
same place wins, and what the plan needs below it is pushed into a copy of it.

Whatever the QuerySet already is, the plan is merged without a crash and without
reading rows again: ``only()``/``defer()`` keep the columns the plan traverses,
``select_related()`` with no argument is kept, a combined query (``union()``) and rows
already read (an evaluated QuerySet, a list) get the plan as prefetches onto the rows,
and hinted aggregates become correlated subqueries (:mod:`drf_autoprefetch.aggregates`).

Prefetch querysets read their rows in batches under the backend's parameter limit
(:mod:`drf_autoprefetch.batching`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import django
from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Manager, Model, Prefetch, QuerySet, prefetch_related_objects
from django.db.models.manager import BaseManager
from django.db.models.query import ModelIterable

from drf_autoprefetch import loading
from drf_autoprefetch.aggregates import correlated
from drf_autoprefetch.apart import Apart, apart_field, loading_apart
from drf_autoprefetch.batching import ModelIterableBase, batched
from drf_autoprefetch.exceptions import ModelMismatch, PlanError
from drf_autoprefetch.tree import Kind, PlanLike, Relation, join_paths, joined_paths, whole_rows

__all__ = [
    "applied_relations",
    "apply_plan",
    "build_prefetches",
    "loading_relations",
    "splits_by_cost",
]

Lookup: TypeAlias = "str | Prefetch[Any]"


logger = logging.getLogger("drf_autoprefetch")


@dataclass(frozen=True)
class _Spec:
    """One prefetch of one query level: the lookup path and the relation it loads."""

    through: str
    relation: Relation
    #: Loaded by a lookup of its own path, below a level the QuerySet's own lookups may
    #: load: placed among them by path (:func:`_insert_by_path`).
    hoisted: bool = False
    #: Of a relation the rows hold already: Django runs nothing nested in its
    #: ``Prefetch``, so the lookups below it stay lookups of their own paths.
    flat: bool = False

    @property
    def prefetch_to(self) -> str:
        to_attr = self.relation.to_attr
        if not to_attr:
            return self.through
        head, _, _ = self.through.rpartition("__")
        return f"{head}__{to_attr}" if head else to_attr


def _split(
    relations: Iterable[Relation],
    taken: frozenset[str],
    prefix: str = "",
    shared: _Shared | None = None,
    joined: frozenset[str] = frozenset(),
) -> tuple[list[str], list[_Spec]]:
    """The ``select_related`` paths and prefetches of one query level.

    A join whose path the QuerySet already prefetches with a queryset of its own
    becomes a prefetch, so that queryset (and its filter) keeps deciding the rows. A join
    whose instances the rows share (``shared``) is not joined either (see
    :func:`_hoisted`). A to-one relation the plan loads apart where the QuerySet joins it
    (``joined``) is held by the rows: Django would skip its query and all nested in it
    (see :func:`_held_apart`).
    """
    select: list[str] = []
    specs: list[_Spec] = []
    for relation in relations:
        path = f"{prefix}{relation.attr}"
        if shared is not None and relation.kind is Kind.JOIN and path in shared.paths:
            specs.extend(_hoisted(relation, f"{prefix}{relation.lookup}", shared))
        elif path in joined and _apart_plainly(relation):
            deeper_select, deeper_specs = _held_apart(relation, taken, path, shared, joined)
            select.extend(deeper_select)
            specs.extend(deeper_specs)
        elif relation.kind is Kind.JOIN and path not in taken:
            deeper_select, deeper_specs = _split(
                relation.children, taken, f"{path}__", shared, joined
            )
            select.extend(deeper_select or (path,))
            specs.extend(deeper_specs)
        else:
            through = f"{prefix}{relation.lookup}"
            hoisted: list[_Spec] = []
            if shared is not None:
                relation, hoisted = _detached(relation, through, shared)
            specs.append(_Spec(through, relation))
            specs.extend(hoisted)
    return select, specs


def _apart_plainly(relation: Relation) -> bool:
    """Whether ``relation`` is a to-one relation loaded apart for its rows' number or
    width alone (split by the serializer or the cost model, or too wide to join), with
    no queryset or annotation a join could not carry."""
    return (
        relation.kind is Kind.PREFETCH_ONE
        and (relation.split or relation.wide)
        and relation.queryset is None
        and not relation.annotations
        and not relation.to_attr
    )


def _held_apart(
    relation: Relation,
    taken: frozenset[str],
    path: str,
    shared: _Shared | None,
    joined: frozenset[str],
) -> tuple[list[str], list[_Spec]]:
    """A to-one relation the plan loads apart at a place the QuerySet joins (Nautobot's
    ``select_related("virtual_machine")`` where ``?depth=2`` is too wide to join): the
    rows hold it, and what is below it is planned from there, joined through the
    QuerySet's join (or, where the plan split it for its width, loaded by lookups of
    their own paths, each a query)."""
    if not relation.wide:
        found_select, found_specs = _split(relation.children, taken, f"{path}__", shared, joined)
        return found_select or [path], found_specs
    return [], _below_held(relation, path, joined)


def _below_held(relation: Relation, path: str, joined: frozenset[str]) -> list[_Spec]:
    """Lookups of their own paths for what is below ``relation``, which the rows hold
    by the QuerySet's join at ``path``; a level below that the QuerySet joins too is
    held in turn."""
    specs: list[_Spec] = []
    for child in relation.children:
        below = f"{path}__{child.attr}"
        if below in joined and child.kind is not Kind.PREFETCH and not child.to_attr:
            specs.extend(_below_held(child, below, joined))
            continue
        own = replace(child, kind=Kind.PREFETCH_ONE) if child.kind is Kind.JOIN else child
        specs.append(_Spec(f"{path}__{child.lookup}", own, hoisted=True))
    return specs


def _detached(relation: Relation, through: str, shared: _Shared) -> tuple[Relation, list[_Spec]]:
    """``relation`` (loaded by a query of its own) without the joins below it whose
    instances the rows share, and those as lookups of their own (:func:`_hoisted`)."""
    if relation.to_attr or not shared.below(through):
        return relation, []
    kept: list[Relation] = []
    hoisted: list[_Spec] = []
    for child in relation.children:
        below = f"{through}__{child.lookup}"
        if child.kind is Kind.JOIN and below in shared.paths:
            hoisted.extend(_hoisted(child, below, shared))
            continue
        child, deeper = _detached(child, below, shared)
        kept.append(child)
        hoisted.extend(deeper)
    return relation.with_children(tuple(kept)), hoisted


def _hoisted(relation: Relation, through: str, shared: _Shared) -> list[_Spec]:
    """A single-valued relation whose instances the rows share without the plan (the
    instance a related manager sets on its rows, the rows a prefetch of the queryset's
    own builds once per key), loaded by a prefetch instead of a join.

    A join would give every row a copy, and code caching per instance (pretix's
    ``event.settings``) would then run once per row. The prefetch loads each instance
    once (one per key, as the queryset's own would). Rows that already hold it (a related
    manager's) make Django skip that prefetch and anything nested in its queryset: there
    it reads nothing, and what is below it is loaded by lookups of their own paths.
    """
    own = replace(relation, kind=Kind.PREFETCH_ONE)
    if through not in shared.held:
        own, deeper = _detached(own, through, shared)
        return [_Spec(through, own, hoisted=True), *deeper]
    specs = [_Spec(through, replace(own, children=()), hoisted=True, flat=True)]
    for child in relation.children:
        below = f"{through}__{child.lookup}"
        if child.kind is Kind.JOIN:
            specs.extend(_hoisted(child, below, shared))
        else:
            child, deeper = _detached(child, below, shared)
            specs.extend([_Spec(below, child, hoisted=True), *deeper])
    return specs


@dataclass(frozen=True)
class _Level:
    """What one query level of a plan loads, worked out once for a relation tuple."""

    relations: tuple[Relation, ...]
    select: tuple[str, ...]
    specs: tuple[_Spec, ...]
    #: The lookups of ``specs`` onto a QuerySet that prefetches nothing yet, where the
    #: built ``Prefetch`` objects can serve every request (see :func:`_build`).
    lookups: tuple[Lookup, ...] | None


def _level(relations: tuple[Relation, ...]) -> _Level:
    """:func:`_split` of a level no prefetch of the queryset takes, kept with its first
    relation for the next request (for this very tuple: the relation may head another)."""
    memo = relations[0].memo
    kept = memo.get(_LEVEL)
    if kept is None or kept.relations is not relations:
        select, specs = _split(relations, frozenset())
        lookups = None
        if all(_reusable(spec.relation) for spec in specs) and not any(
            spec.relation.kind is Kind.GENERIC for spec in specs
        ):
            lookups = tuple(lookup for spec in specs for lookup in _kept(spec))
        kept = memo[_LEVEL] = _Level(relations, tuple(select), tuple(specs), lookups)
    assert isinstance(kept, _Level)
    return kept


#: The memo key of :func:`_level` (no lookup path contains a space).
_LEVEL = "level ?"

#: How deep ``select_related()`` with no argument follows foreign keys (Django's default).
_FOLLOW_ALL_DEPTH = 5


def _split_under_all(
    model: type[Model], relations: Iterable[Relation], taken: frozenset[str], prefix: str = ""
) -> list[_Spec]:
    """The prefetches of a query that has ``select_related()`` with no argument.

    That query already joins every non-null foreign key (five levels deep); a join of the
    plan it does not follow (a nullable key, a reverse one-to-one) is loaded by a query
    of its own rather than replacing the user's ``select_related()``.
    """
    specs: list[_Spec] = []
    depth = prefix.count("__") + 1
    for relation in relations:
        path = f"{prefix}{relation.attr}"
        if relation.kind is Kind.JOIN and path not in taken and _followed(model, relation, depth):
            assert relation.model is not None
            specs.extend(_split_under_all(relation.model, relation.children, taken, f"{path}__"))
        else:
            specs.append(_Spec(f"{prefix}{relation.lookup}", relation))
    return specs


def _followed(model: type[Model], relation: Relation, depth: int) -> bool:
    """Whether ``select_related()`` with no argument joins ``relation`` of ``model``."""
    field: Any = _field(model, relation.lookup)
    return bool(
        field is not None
        and depth <= _FOLLOW_ALL_DEPTH
        and field.concrete
        and field.is_relation
        and (field.many_to_one or field.one_to_one)
        and not field.null
        and not field.remote_field.parent_link
    )


def _user_prefetches(lookups: Sequence[Lookup]) -> frozenset[str]:
    return frozenset(_prefetch_to(lookup) for lookup in lookups if _own_rows(lookup))


def _own_rows(lookup: Lookup) -> bool:
    """Whether ``lookup`` reads its rows with querysets of its own: a ``Prefetch`` with
    a queryset, or a ``GenericPrefetch`` with its querysets (one per content type)."""
    if not isinstance(lookup, Prefetch):
        return False
    return lookup.queryset is not None or bool(getattr(lookup, "querysets", None))


@dataclass(frozen=True)
class _Shared:
    """The single-valued relations whose instances the rows of a queryset share without
    the plan (lookup paths), and those of them the rows hold before any prefetch runs."""

    paths: frozenset[str]
    held: frozenset[str]

    def below(self, path: str) -> bool:
        return any(each.startswith(f"{path}__") for each in self.paths)


def _shared_of(queryset: QuerySet[Any], lookups: Sequence[Lookup]) -> _Shared | None:
    """What the rows of ``queryset`` share: the relations its own prefetches load (one
    instance per key, every level of each lookup) and the one its related manager sets
    on every row (``event.orders.all()`` gives each order that very ``event``), but not
    what it joins itself (a copy per row either way). ``None``: nothing."""
    paths: set[str] = set()
    for lookup in lookups:
        through = lookup.prefetch_through if isinstance(lookup, Prefetch) else lookup
        parts = through.split("__")
        own = _own_rows(lookup)
        # A level the lookup loads with a queryset of its own is the merge's (``taken``).
        paths.update("__".join(parts[:end]) for end in range(1, len(parts) + (not own)))
    known = queryset._known_related_objects  # type: ignore[attr-defined]
    held = {field.name for field in known}
    joined = joined_paths(queryset.query.select_related)
    paths = (paths | held) - joined
    if not paths:
        return None
    return _Shared(frozenset(paths), frozenset(held - joined))


def _apply(
    queryset: QuerySet[Any],
    relations: tuple[Relation, ...],
    annotations: Iterable[tuple[str, Any]] = (),
    columns: Iterable[str] = (),
) -> QuerySet[Any]:
    existing: Sequence[Lookup] = queryset._prefetch_related_lookups  # type: ignore[attr-defined]
    # A prefetch of a level the queryset joins never runs (Django skips rows holding it,
    # with what is nested in its queryset): that level is the join's.
    joined = joined_paths(queryset.query.select_related)
    taken = _user_prefetches(existing) - joined
    shared = None
    if relations and (existing or queryset._known_related_objects):  # type: ignore[attr-defined]
        shared = _shared_of(queryset, existing)
    queryset = _keep_columns(queryset, relations, columns)
    if queryset.query.select_related is True:  # select_related() with no argument: kept
        select: list[str] = []
        specs = _split_under_all(queryset.model, relations, taken)
    elif taken or shared is not None or joined or not relations:
        select, specs = _split(relations, taken, shared=shared, joined=joined)
    else:
        level = _level(relations)
        if level.lookups is not None and not existing and one_database():
            # The common case, a queryset that prefetches nothing: the kept lookups.
            queryset = _annotate(queryset, annotations)
            return _loading(queryset, level.select, level.lookups)
        select, specs = list(level.select), list(level.specs)
    queryset = _annotate(queryset, annotations)
    specs = _generic_specs_for(queryset, specs)
    # The merged list replaces the queryset's own.
    lookups = tuple(_merge(list(existing), specs)) if specs else None
    return _loading(queryset, select, lookups)


def _loading(
    queryset: QuerySet[Any], select: Sequence[str], lookups: tuple[Lookup, ...] | None
) -> QuerySet[Any]:
    """A copy of ``queryset`` joining ``select`` and prefetching ``lookups`` (``None``:
    its own); ``queryset`` itself where there is nothing to add."""
    if not select and lookups is None:
        return queryset
    # One copy for both, as select_related() and prefetch_related() would each make.
    loaded: QuerySet[Any] = queryset._chain()  # type: ignore[attr-defined]
    if select:
        loaded.query.add_select_related(select)
    if lookups is not None:
        loaded._prefetch_related_lookups = lookups  # type: ignore[attr-defined]
    return loaded


def _annotate(queryset: QuerySet[Any], annotations: Iterable[tuple[str, Any]]) -> QuerySet[Any]:
    """``queryset`` with the hinted annotations it lacks, aggregates as subqueries."""
    model = queryset.model
    missing = {
        name: correlated(model, expression)
        for name, expression in annotations
        if name not in queryset.query.annotations
    }
    if not missing:
        return queryset
    annotated: QuerySet[Any] = _keep_default_ordering(queryset, missing.values()).annotate(
        **missing
    )
    return annotated


# ------------------------------------------------------------ the user's columns


def _keep_columns(
    queryset: QuerySet[Any], relations: tuple[Relation, ...], columns: Iterable[str]
) -> QuerySet[Any]:
    """``queryset`` loading what the plan traverses and what the fields read.

    Under ``only()``/``defer()`` a relation the plan joins must stay loaded (Django
    refuses to join a deferred foreign key), so must the key of a relation loaded by a
    query of its own; a column a field reads is loaded too rather than fetched per row.
    """
    names, defer = queryset.query.deferred_loading
    if not names:
        return queryset
    needed = _needed(queryset.model, relations, columns)
    if defer:
        kept = frozenset(name for name in names if name not in needed)
    else:
        kept = frozenset(names) | _only_additions(frozenset(names), needed)
    if kept == names:
        return queryset
    clone: QuerySet[Any] = queryset._chain()  # type: ignore[attr-defined]
    clone.query.deferred_loading = (kept, defer)
    return clone


def _needed(
    model: type[Model], relations: tuple[Relation, ...], columns: Iterable[str]
) -> set[str]:
    """Field names and ``select_related`` paths (with every prefix) that must load."""
    needed = set(columns)
    for relation in relations:
        field: Any = None if relation.kind is Kind.PREFETCH else _field(model, relation.lookup)
        if field is None:
            continue
        if relation.kind is Kind.GENERIC:
            needed.update((field.ct_field, field.fk_field))
        elif field.concrete:
            needed.add(field.name)
    for path in join_paths(relations):
        parts = path.split("__")
        needed.update("__".join(parts[: index + 1]) for index in range(len(parts)))
    return needed


def _field(model: type[Model], name: str) -> Any:
    """The field ``name`` of ``model``, or ``None`` (an accessor Django names otherwise)."""
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _only_additions(names: frozenset[str], needed: set[str]) -> set[str]:
    """What to add to an ``only()`` list: a path below a relation only where the user
    restricted that relation's columns (listing ``rel__x``); otherwise all of them load."""
    added: set[str] = set()
    for path in needed:
        head, _, _ = path.rpartition("__")
        if not head or any(name.startswith(f"{head}__") for name in names):
            added.add(path)
    return added


# --------------------------------------------------------- user prefetches


def _generic_specs_for(queryset: QuerySet[Any], specs: list[_Spec]) -> list[_Spec]:
    """Generic foreign keys read on another database than the default one.

    Since Django 5.1, prefetching a generic foreign key loads its targets from the
    default database whatever the instances' database, while reading it row by row
    follows the instance: off the default database such a relation is left to the
    lazy path, unless hints gave it querysets, which then follow the root's database.
    """
    if not any(spec.relation.kind is Kind.GENERIC for spec in specs):
        return specs
    alias = queryset.db
    if alias == DEFAULT_DB_ALIAS or django.VERSION < (5, 1):
        return specs
    kept: list[_Spec] = []
    for spec in specs:
        relation = spec.relation
        if relation.kind is not Kind.GENERIC:
            kept.append(spec)
        elif relation.queryset:
            querysets = tuple(each.using(alias) for each in relation.queryset)
            kept.append(_Spec(spec.through, replace(relation, queryset=querysets)))
    return kept


def _keep_default_ordering(queryset: QuerySet[Any], expressions: Iterable[Any]) -> QuerySet[Any]:
    """Spell out ``Meta.ordering`` before an aggregate turns the query into a GROUP BY.

    Django ignores ``Meta.ordering`` in grouped queries; without this, an annotation
    from hints would change the order of the rows.
    """
    query = queryset.query
    ordering = queryset.model._meta.ordering
    if query.order_by or not query.default_ordering or not ordering:
        return queryset
    if not any(getattr(expression, "contains_aggregate", False) for expression in expressions):
        return queryset
    ordered: QuerySet[Any] = queryset._chain()  # type: ignore[attr-defined]
    ordered.query.add_ordering(*ordering)  # order_by() refuses a sliced query
    return ordered


def _merge(existing: list[Lookup], specs: Iterable[_Spec]) -> list[Lookup]:
    """The plan's prefetches merged into the QuerySet's, never clashing with them.

    The deepest places are merged first: a ``Prefetch`` of the user's that a level above
    takes in (see :func:`_inner`) then carries the plan below it already.
    """
    ordered = list(specs)
    front: dict[int, list[Lookup]] = {}
    for index in sorted(range(len(ordered)), key=lambda at: -ordered[at].prefetch_to.count("__")):
        spec = ordered[index]
        target = spec.prefetch_to
        if _generic_of_own(existing, target):
            continue  # the user's GenericPrefetch: its querysets decide, as they are
        inner = _inner(existing, spec)
        found = _find(existing, target)
        if found is not None:
            user = existing[found]
            assert isinstance(user, Prefetch)
            assert user.queryset is not None
            # A sliced queryset of the user's takes no aggregate: Django filters it per row.
            sliced = user.queryset.query.is_sliced
            annotations = () if sliced else spec.relation.annotations
            own = user.queryset.prefetch_related(*inner) if inner else user.queryset
            merged = _apply(own, spec.relation.children, annotations)
            existing[found] = Prefetch(
                user.prefetch_through, queryset=batched(merged), to_attr=user.to_attr
            )
            continue
        built = _build(spec, inner)
        if spec.hoisted:
            _insert_by_path(existing, target, built)
        else:
            front[index] = built
    return [lookup for index in sorted(front) for lookup in front[index]] + existing


def _generic_of_own(existing: list[Lookup], target: str) -> bool:
    """Whether the QuerySet loads ``target`` with a ``GenericPrefetch`` of its own."""
    found = _find(existing, target)
    return found is not None and getattr(existing[found], "queryset", None) is None


def _inner(existing: list[Lookup], spec: _Spec) -> list[Prefetch[Any]]:
    """The user's prefetches with querysets below ``spec``'s place, taken out of
    ``existing`` and rerooted there: the plan's prefetch there loads them, so that the
    plan below it knows them (and joins nothing they load)."""
    if spec.flat:
        return []
    below = f"{spec.prefetch_to}__"
    inner = [
        lookup
        for lookup in existing
        if isinstance(lookup, Prefetch)
        and lookup.queryset is not None
        and lookup.prefetch_through.startswith(below)
    ]
    for lookup in inner:
        existing.remove(lookup)
    return [_reroot(lookup, len(below)) for lookup in inner]


def _insert_by_path(existing: list[Lookup], target: str, built: list[Lookup]) -> None:
    """Place the lookups ``built`` for ``target`` among the QuerySet's: after those of
    the levels above it (a ``Prefetch`` of the user's there must come first), before any
    lookup through it (which would load its level without the plan's queryset, and Django
    would then refuse the plan's), in place of a plain lookup of the same path."""
    below = f"{target}__"
    for index, lookup in enumerate(existing):
        through = lookup.prefetch_through if isinstance(lookup, Prefetch) else lookup
        if through == target or through.startswith(below):
            plain = not isinstance(lookup, Prefetch) or lookup.queryset is None
            same = _prefetch_to(lookup) == target and plain
            existing[index : index + same] = built
            return
    existing.extend(built)


def _find(lookups: Sequence[Lookup], prefetch_to: str) -> int | None:
    """Where the QuerySet prefetches ``prefetch_to`` with querysets of its own."""
    for index, lookup in enumerate(lookups):
        if _own_rows(lookup) and _prefetch_to(lookup) == prefetch_to:
            return index
    return None


def _reroot(lookup: Prefetch[Any], cut: int) -> Prefetch[Any]:
    return Prefetch(lookup.prefetch_through[cut:], queryset=lookup.queryset, to_attr=lookup.to_attr)


# ---------------------------------------------------------------- prefetches


def _base_queryset(relation: Relation) -> QuerySet[Any]:
    if relation.queryset is not None:
        user_queryset: QuerySet[Any] = relation.queryset.all()
        return user_queryset
    model = relation.model
    assert model is not None
    manager = model._default_manager if relation.kind is Kind.PREFETCH else model._base_manager
    queryset: QuerySet[Any] = manager.all()
    return queryset


def _plain_lookups(through: str, relation: Relation) -> list[Lookup]:
    """A relation whose manager takes no custom queryset, and what is below it, as
    plain lookup strings (one query each)."""
    lookups: list[Lookup] = [through]
    for child in relation.children:
        lookups.extend(_plain_lookups(f"{through}__{child.lookup}", child))
    return lookups


def _build(spec: _Spec, inner: Sequence[Prefetch[Any]] = ()) -> list[Lookup]:
    """The lookups loading ``spec``: one ``Prefetch``, or plain strings.

    Built once and kept for later requests (each gets a copy, see :func:`_fresh`), where
    every queryset below comes from a manager Django's own ``get_queryset()`` serves (one
    that filters per request is asked again each time).
    """
    if inner or not _reusable(spec.relation):
        return _build_now(spec, inner)
    built = _kept(spec)
    if one_database():  # no hint can route elsewhere
        return list(built)
    return [_fresh(lookup) for lookup in built]


def _kept(spec: _Spec) -> tuple[Lookup, ...]:
    """The lookups built for ``spec`` once, for every request (a reusable relation)."""
    built = spec.relation.memo.get(spec.through)
    if built is None:
        built = spec.relation.memo[spec.through] = tuple(_build_now(spec))
    assert isinstance(built, tuple)
    return built


def one_database() -> bool:
    """Whether one database is configured (``DATABASES`` has one alias)."""
    return len(connections.settings) == 1


def _fresh(lookup: Lookup) -> Lookup:
    """A copy of a kept ``Prefetch`` for one request: its querysets (and those of the
    prefetches inside them) are shallow copies with hints of their own, since Django
    records the instance a prefetch serves in its queryset's hints (which decide the
    database the rows are read from). Nothing is cloned: no query is copied. Where one
    database is configured, the hints decide nothing and the kept objects serve as they
    are (Django copies a queryset before it filters it)."""
    if isinstance(lookup, str):
        return lookup
    copy: Any = object.__new__(type(lookup))
    copy.__dict__.update(lookup.__dict__)
    if lookup.queryset is not None:
        copy.queryset = _fresh_queryset(lookup.queryset)
    querysets = getattr(lookup, "querysets", None)  # GenericPrefetch
    if querysets is not None:
        copy.querysets = [_fresh_queryset(queryset) for queryset in querysets]
    fresh: Lookup = copy
    return fresh


def _fresh_queryset(queryset: QuerySet[Any]) -> QuerySet[Any]:
    copy: Any = object.__new__(type(queryset))
    copy.__dict__.update(queryset.__dict__)
    copy._hints = dict(queryset._hints)  # type: ignore[attr-defined]
    inner: Sequence[Lookup] = queryset._prefetch_related_lookups  # type: ignore[attr-defined]
    if inner:
        copy._prefetch_related_lookups = tuple(_fresh(lookup) for lookup in inner)
    fresh: QuerySet[Any] = copy
    return fresh


def _reusable(relation: Relation) -> bool:
    """Whether what is built for ``relation`` can serve every request (memoized)."""
    reusable = relation.memo.get(_REUSABLE)
    if reusable is None:
        reusable = relation.memo[_REUSABLE] = all(_fixed_source(each) for each in relation.walk())
    return bool(reusable)


#: The memo key of :func:`_reusable` (no lookup path contains a space).
_REUSABLE = "reusable ?"


def _fixed_source(relation: Relation) -> bool:
    """Whether the rows of ``relation`` come from a queryset that is the same for every
    request: hinted, or from a manager whose ``get_queryset()`` is Django's own."""
    if relation.queryset is not None or relation.model is None or relation.plain:
        return True
    model = relation.model
    manager = model._default_manager if relation.kind is Kind.PREFETCH else model._base_manager
    return type(manager).get_queryset is BaseManager.get_queryset


def _build_now(spec: _Spec, inner: Sequence[Prefetch[Any]] = ()) -> list[Lookup]:
    relation = spec.relation
    if relation.plain:
        return _plain_lookups(spec.through, relation)
    if relation.kind is Kind.GENERIC:
        if relation.queryset:  # from a GenericPrefetch in hints (Django >= 5.0)
            from django.contrib.contenttypes.prefetch import GenericPrefetch

            querysets = [batched(queryset.all()) for queryset in relation.queryset]
            return [GenericPrefetch(spec.through, querysets, to_attr=relation.to_attr)]
        return [Prefetch(spec.through, to_attr=relation.to_attr)]
    queryset = _base_queryset(relation)
    if inner:
        queryset = queryset.prefetch_related(*inner)
    elif relation.only is not None and queryset.query.select_related is False:
        # Key columns only; a manager that joins on its own keeps its columns.
        queryset = queryset.only(*relation.only)
    children, loads = _loads_apart(relation) if not inner else (relation.children, ())
    queryset = _apply(queryset, children, relation.annotations)
    # Built from a fresh ``.all()`` above: this function holds the only reference.
    queryset = batched(queryset, own=True)
    if loads:
        queryset._iterable_class = loading_apart(queryset._iterable_class, loads)
    return [Prefetch(spec.through, queryset=queryset, to_attr=relation.to_attr)]


def _loads_apart(relation: Relation) -> tuple[tuple[Relation, ...], tuple[Apart, ...]]:
    """The children of ``relation`` left to the joins and nested prefetches of its
    prefetch queryset, and the to-one relations split below it, which that prefetch
    loads apart itself once it has its rows (:mod:`drf_autoprefetch.apart`)."""
    model = relation.model
    if model is None or not any(child.split for child in relation.children):
        return relation.children, ()
    kept: list[Relation] = []
    loads: list[Apart] = []
    for child in relation.children:
        field = apart_field(model, child.lookup) if _loads_itself(child) else None
        if field is None:
            kept.append(child)
            continue
        [lookup] = _build_now(_Spec(child.lookup, child))
        assert isinstance(lookup, Prefetch)
        assert lookup.queryset is not None
        loads.append(Apart(field, lookup.queryset, _fresh_queryset))
    return tuple(kept), tuple(loads)


def _loads_itself(relation: Relation) -> bool:
    """Whether ``relation`` is split from its parent's query and loaded by nothing
    Django must run for it (a hinted queryset, a ``to_attr``, a plain lookup)."""
    return (
        relation.split
        and relation.kind is Kind.PREFETCH_ONE
        and relation.queryset is None
        and not relation.to_attr
        and not relation.plain
    )


def build_prefetches(relations: tuple[Relation, ...]) -> tuple[Lookup, ...]:
    """The root ``Prefetch`` objects of a plan, for a QuerySet that has none."""
    _, specs = _split(relations, frozenset())
    return tuple(lookup for spec in specs for lookup in _build(spec))


# ------------------------------------------------------------- rows in hand


def _row_lookups(specs: Iterable[_Spec], prefix: str = "") -> list[Lookup]:
    """Every relation of ``specs`` as a flat list of prefetches for rows already read.

    Flat (one lookup per level, the deeper ones by their full path) so that a level the
    rows already hold, such as a prefetch the view made itself, is kept and the levels
    below it are still loaded onto it.
    """
    lookups: list[Lookup] = []
    for spec in specs:
        relation = spec.relation
        through = f"{prefix}{spec.through}"
        if relation.plain or relation.kind is Kind.GENERIC:
            lookups.extend(_build(_Spec(through, relation)))
            continue
        select, deeper = _split(relation.children, frozenset())
        queryset = _base_queryset(relation)
        if select:
            queryset = queryset.select_related(*select)
        queryset = _annotate(queryset, relation.annotations)
        lookups.append(
            Prefetch(through, queryset=batched(queryset, own=True), to_attr=relation.to_attr)
        )
        lookups.extend(_row_lookups(deeper, f"{prefix}{spec.prefetch_to}__"))
    return lookups


def _root_specs(relations: Iterable[Relation]) -> list[_Spec]:
    return [_Spec(relation.lookup, relation) for relation in relations]


def prefetch_onto(rows: Sequence[Model], plan: PlanLike, using: str | None = None) -> None:
    """Load the plan onto model instances already read: prefetches, joins included, and
    the hinted annotations of the root by one query."""
    held = [row for row in rows if isinstance(row, plan.model)]
    _load_onto(held, plan, _plan_row_lookups(plan), using)


def _load_onto(
    rows: list[Model], plan: PlanLike, lookups: Sequence[Lookup], using: str | None
) -> None:
    """The root's hinted annotations (one query) and ``lookups`` onto ``rows``."""
    if not rows:
        return
    annotate_rows(rows, plan.annotation_items, using)
    if lookups:
        prefetch_related_objects(rows, *lookups)


def _plan_row_lookups(plan: PlanLike) -> list[Lookup]:
    return _row_lookups(_root_specs(plan.relations))


def _onto_evaluated(queryset: QuerySet[Any], plan: PlanLike, *, now: bool) -> QuerySet[Any]:
    """An evaluated ``queryset``, kept with its rows, given the plan as prefetch lookups.

    The lookups are added to the queryset itself, so a copy of it (``filter()``, as
    ``get_object()`` makes) reads its rows with the plan. ``now`` prefetches them onto the
    rows held at once (a page of them is sliced from the list, which Django does without
    running pending prefetches); otherwise they run when the rows are next read whole.
    """
    held = [row for row in queryset._result_cache or () if isinstance(row, plan.model)]
    existing: tuple[Lookup, ...] = tuple(queryset._prefetch_related_lookups)  # type: ignore[attr-defined]
    added = _new_lookups(existing, _plan_row_lookups(plan))
    if now:
        _load_onto(held, plan, added, queryset.db)
    if not added:
        return queryset
    queryset._prefetch_related_lookups = (*existing, *added)  # type: ignore[attr-defined]
    queryset._prefetch_done = now  # type: ignore[attr-defined]
    return queryset


def _new_lookups(existing: Sequence[Lookup], lookups: Sequence[Lookup]) -> list[Lookup]:
    """``lookups`` whose place ``existing`` does not already prefetch (Django refuses one
    place prefetched twice with two querysets)."""
    taken = {_prefetch_to(lookup) for lookup in existing}
    return [lookup for lookup in lookups if _prefetch_to(lookup) not in taken]


def _prefetch_to(lookup: Lookup) -> str:
    return lookup if isinstance(lookup, str) else lookup.prefetch_to


#: How many primary keys one query for the annotations of rows in hand filters on.
_ROWS_PER_QUERY = 500


def annotate_rows(
    rows: Sequence[Model], annotations: Sequence[tuple[str, Any]], using: str | None
) -> None:
    """Set the hinted annotations on rows already read, that lack them."""
    names = [name for name, _ in annotations]
    todo = [row for row in rows if not all(hasattr(row, name) for name in names)]
    if not todo:
        return
    model = type(todo[0])
    expressions = {name: correlated(model, expression) for name, expression in annotations}
    manager = model._base_manager.db_manager(using or todo[0]._state.db)
    found: dict[Any, tuple[Any, ...]] = {}
    for start in range(0, len(todo), _ROWS_PER_QUERY):
        keys = [row.pk for row in todo[start : start + _ROWS_PER_QUERY]]
        values = manager.filter(pk__in=keys).annotate(**expressions).values_list("pk", *names)
        found.update((pk, tuple(rest)) for pk, *rest in values)
    for row in todo:
        for name, value in zip(names, found.get(row.pk, (None,) * len(names)), strict=True):
            setattr(row, name, value)


def _combined(queryset: QuerySet[Any], plan: PlanLike) -> QuerySet[Any]:
    """A ``union()``/``intersection()``/``difference()`` query with the plan as prefetches.

    Django allows neither ``select_related()`` nor ``prefetch_related()`` on such a query,
    but prefetches onto the rows it reads work: they are set on a copy directly, joins
    included, and the root's hinted annotations are read by one more query.
    """
    clone: QuerySet[Any] = queryset._chain()  # type: ignore[attr-defined]
    existing = tuple(clone._prefetch_related_lookups)  # type: ignore[attr-defined]
    lookups = _new_lookups(existing, _plan_row_lookups(plan))
    clone._prefetch_related_lookups = (*existing, *lookups)  # type: ignore[attr-defined]
    if plan.annotation_items and clone._iterable_class is ModelIterable:
        clone._iterable_class = _annotating_iterable(plan.annotation_items)
    return clone


def _annotating_iterable(annotations: Sequence[tuple[str, Any]]) -> type[Any]:
    class AnnotatingIterable(ModelIterableBase):
        def __iter__(self) -> Iterator[Any]:
            rows = list(super().__iter__())
            annotate_rows(rows, annotations, self.queryset.db)
            yield from rows

    return AnnotatingIterable


# ------------------------------------------------------------------ entry


def _holds_parent_rows(queryset: QuerySet[Any], plan: PlanLike) -> bool:
    """Whether ``queryset`` holds rows of a parent model of the plan's (multi-table
    inheritance): the view turns them into children later (``.specific``, a lookup of
    its own), so the plan for the child does not fit; the queryset is left as it is."""
    model: type[Model] = queryset.model
    return model is not plan.model and issubclass(plan.model, model)


def _check_model(queryset: QuerySet[Any], plan: PlanLike) -> None:
    model: type[Model] = queryset.model
    if model is plan.model or issubclass(model, plan.model):
        return
    if model._meta.concrete_model is plan.model._meta.concrete_model:
        return
    raise ModelMismatch(
        f"The plan is for {plan.model._meta.label} but the queryset holds "
        f"{model._meta.label}; give the serializer for {model.__name__} or a queryset of "
        f"{plan.model.__name__}."
    )


def apply_plan(
    queryset: Any,
    plan: PlanLike,
    *,
    onto_rows: bool = True,
    prune: bool = False,
    prune_prefetched: bool = True,
    rows: int | None = None,
) -> Any:
    """``queryset`` with ``plan`` merged into what it already has.

    Never reads rows again: an evaluated QuerySet or a list of instances gets the plan
    prefetched onto the rows it holds and is returned as it is. Applying the same plan
    twice equals applying it once. What is neither (a ``RawQuerySet``) is returned as it is.

    ``onto_rows=False`` leaves the rows of an evaluated QuerySet until it is next read
    whole, for a view that will filter it down to one row (a detail view's
    ``get_object()``): the copy it filters gets the plan, and no held row is loaded for
    nothing.

    ``prune=True`` loads only the root columns ``plan.only`` names. Only for rows that
    are rendered and never saved: Django saves only the loaded columns of a row, so an
    ``auto_now`` column would not be saved. ``prune_prefetched=False`` loads whole the
    rows the plan prefetches too, for rows that code other than the serializer may read
    (an ``@action`` copying them, say).

    ``rows`` is how many root rows the caller expects to render at most (a page size),
    for the loading cost model (:mod:`drf_autoprefetch.loading`) where it is on.
    """
    if isinstance(queryset, Manager):
        queryset = queryset.all()
    if isinstance(queryset, list):
        prefetch_onto(queryset, plan)
        return queryset
    if not isinstance(queryset, QuerySet):
        return queryset
    if _holds_parent_rows(queryset, plan):
        return queryset
    _check_model(queryset, plan)
    if not issubclass(queryset._iterable_class, ModelIterable):  # values(), values_list()
        return queryset
    if queryset._result_cache is not None:
        return _onto_evaluated(queryset, plan, now=onto_rows)
    if queryset.query.combinator:
        return _combined(queryset, plan)
    _check_own_prefetches(queryset)
    if prune:
        queryset = _prune_root(queryset, plan.only)
    relations = applied_relations(queryset, plan, rows)
    if not prune_prefetched:
        relations = whole_rows(relations)
    return _apply(queryset, relations, plan.annotation_items, plan.columns)


# ------------------------------------------------------------------ loading apart


def splits_by_cost(plan: PlanLike) -> bool:
    """Whether the loading cost model decides how ``plan`` loads its to-one relations
    below to-many ones (see :func:`drf_autoprefetch.loading.splits_by_cost`)."""
    return loading.splits_by_cost(plan.splitting)


def applied_relations(
    queryset: QuerySet[Any], plan: PlanLike, rows: int | None = None
) -> tuple[Relation, ...]:
    """The relations of ``plan`` as they load ``queryset``: where the cost model is on,
    with the to-one relations that pay to load apart for the rows expected so loaded."""
    if not plan.relations or not splits_by_cost(plan):
        return plan.relations
    query = queryset.query
    span = None if query.high_mark is None else query.high_mark - query.low_mark
    request = loading.Request(queryset.db, queryset.model, rows, span, bool(query.where))
    try:
        return loading.relations_for(plan.model, plan.relations, request)
    except Exception:  # an optimization only: the plan as printed serves the request
        logger.warning(
            "drf_autoprefetch: the loading cost model failed for %s; the plan's joins are "
            "kept. Please report it.",
            plan.model._meta.label,
            exc_info=True,
        )
        return plan.relations


def loading_relations(
    queryset: Any, plan: PlanLike, rows: int | None = None
) -> tuple[Relation, ...]:
    """The relations :func:`apply_plan` loads ``queryset`` with (``plan.relations`` for
    anything but a QuerySet whose query the plan goes into)."""
    if not isinstance(queryset, QuerySet) or queryset._result_cache is not None:
        return plan.relations
    if queryset.query.combinator:
        return plan.relations
    return applied_relations(queryset, plan, rows)


def _prune_root(queryset: QuerySet[Any], only: tuple[str, ...] | None) -> QuerySet[Any]:
    """``queryset`` loading the columns ``only`` names; as it is if it chose its columns
    itself (``only()``, ``defer()``), or joins or prefetches anything of its own (its
    keys, whatever they are, stay loaded)."""
    query = queryset.query
    if only is None or query.deferred_loading[0] or query.select_related:
        return queryset
    if queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
        return queryset
    pruned: QuerySet[Any] = queryset.only(*only)
    return pruned


def _check_own_prefetches(queryset: QuerySet[Any]) -> None:
    """Refuse a queryset prefetching one path with two querysets, as Django would later.

    Django raises "lookup was already seen with a different queryset" only once the rows
    are read; this says which lookup, and what to do, before the plan is merged in.
    """
    lookups: Sequence[Lookup] = queryset._prefetch_related_lookups  # type: ignore[attr-defined]
    seen: dict[str, Prefetch[Any]] = {}
    for lookup in lookups:
        if not isinstance(lookup, Prefetch) or lookup.queryset is None:
            continue
        first = seen.setdefault(lookup.prefetch_to, lookup)
        if first is not lookup:
            raise PlanError(
                f"The queryset of {queryset.model._meta.label} prefetches "
                f"{lookup.prefetch_to!r} twice, each time with a queryset of its own "
                f"(Prefetch({first.prefetch_through!r}, queryset=...) and "
                f"Prefetch({lookup.prefetch_through!r}, queryset=...)); Django refuses that "
                "when the rows are read. Keep one of them, or give the other a to_attr."
            )
