"""Planning: from a serializer class to a :class:`~drf_autoprefetch.plan.Plan`.

The planner reads DRF's field tree and Django's model metadata. It never builds a
QuerySet and never runs a query, so its tests need no database.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import Model
from rest_framework import serializers
from rest_framework.fields import Field, SerializerMethodField
from rest_framework.relations import ManyRelatedField, RelatedField, StringRelatedField

from drf_autoprefetch import conf
from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.hinting import Hints, get_hints
from drf_autoprefetch.plan import Kind, Plan, Relation

__all__ = [
    "build_plan",
    "check_unresolved",
    "clear_cache",
    "plan_for",
    "plan_for_queryset",
    "serializer_model",
]

logger = logging.getLogger(__name__)

#: How many times one serializer class may nest itself before the planner stops.
MAX_SELF_NESTING = 3

#: Methods whose override makes a serializer's fields depend on its context.
_DYNAMIC_MEMBERS = ("__init__", "fields", "get_fields", "get_field_names")


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class _Attr:
    """What a name on a model is, as far as loading goes."""

    kind: Kind | None  # None: a column (nothing to load)
    model: type[Model] | None = None
    #: The local column holding the related key (forward FK / one-to-one only).
    attname: str | None = None
    #: Columns enough to serve a ``many=True`` primary-key list.
    id_columns: tuple[str, ...] | None = None


_COLUMN = _Attr(kind=None)


@cache
def model_attrs(model: type[Model]) -> Mapping[str, _Attr]:
    """Every field, accessor and column name of ``model``, mapped to how it loads."""
    found: dict[str, _Attr] = {"pk": _COLUMN}
    for field in model._meta.get_fields():
        if not field.is_relation:
            found[field.name] = _COLUMN
            continue
        name, attr = _relation_attr(field)
        if name is not None:
            found[name] = attr
        attname = getattr(field, "attname", None)
        if attname and attname != name:
            found[attname] = _COLUMN
    return found


def _relation_attr(field: Any) -> tuple[Any, _Attr]:
    related = field.related_model
    # Generic relations are recognised by their attributes, so that importing the
    # planner never imports django.contrib.contenttypes (which may not be installed).
    if hasattr(field, "ct_field") and hasattr(field, "fk_field"):  # GenericForeignKey
        return field.name, _Attr(Kind.GENERIC)
    if hasattr(field, "object_id_field_name"):  # GenericRelation
        ct_field = related._meta.get_field(field.content_type_field_name)
        generic_columns = (related._meta.pk.attname, field.object_id_field_name, ct_field.attname)
        return field.name, _Attr(Kind.PREFETCH, related, id_columns=generic_columns)
    if field.auto_created and not field.concrete:  # reverse side of a relation
        name = field.get_accessor_name()
        if field.one_to_one:
            return name, _Attr(Kind.JOIN, related)
        if field.one_to_many:
            columns = (related._meta.pk.attname, field.field.attname)
            return name, _Attr(Kind.PREFETCH, related, id_columns=columns)
        return name, _Attr(Kind.PREFETCH, related, id_columns=(related._meta.pk.attname,))
    if field.many_to_many:
        return field.name, _Attr(Kind.PREFETCH, related, id_columns=(related._meta.pk.attname,))
    return field.name, _Attr(Kind.JOIN, related, attname=field.attname)


def _relation_names(model: type[Model]) -> str:
    names = sorted(name for name, attr in model_attrs(model).items() if attr.kind is not None)
    return ", ".join(names) or "(none)"


# ----------------------------------------------------------------------- walk state


@dataclass(frozen=True)
class _Walk:
    """Where the planner stands: for messages and to stop self-nesting serializers."""

    serializer: str
    path: str = ""
    stack: tuple[type, ...] = ()

    def enter(self, name: str) -> _Walk:
        return _Walk(self.serializer, f"{self.path}.{name}" if self.path else name, self.stack)

    def where(self) -> str:
        return f"{self.serializer}.{self.path}" if self.path else self.serializer


class _Draft:
    """A relation (or the root) while the plan is being built."""

    def __init__(
        self,
        model: type[Model] | None,
        kind: Kind | None = None,
        attr: str = "",
        lookup: str = "",
        id_columns: tuple[str, ...] | None = None,
    ) -> None:
        self.model = model
        self.kind = kind
        self.attr = attr
        self.lookup = lookup
        self.id_columns = id_columns
        self.children: dict[str, _Draft] = {}
        self.annotations: dict[str, Any] = {}
        self.queryset: Any = None
        #: Who declared ``queryset`` (``"Serializer.get_name"``), for messages.
        self.queryset_owner = ""
        #: Serializer fields reading this relation through their ``source``.
        self.readers: list[str] = []
        self.rows_read = False  # something reads more than primary keys
        self.parent: _Draft | None = None

    @property
    def to_many(self) -> bool:
        return self.kind is Kind.PREFETCH

    def relation(self, name: str, attr: _Attr, lookup: str | None = None) -> _Draft:
        child = self.children.get(name)
        if child is None:
            assert attr.kind is not None
            child = _Draft(attr.model, attr.kind, name, lookup or name, attr.id_columns)
            child.parent = self
            self.children[name] = child
        return child

    def freeze(self) -> Relation:
        assert self.kind is not None
        self._check_readers()
        kind = self.kind
        if kind is Kind.JOIN and (self.annotations or self.queryset is not None):
            kind = Kind.PREFETCH_ONE
        ids_only = not (self.rows_read or self.children or self.annotations or self.queryset)
        return Relation(
            attr=self.attr,
            lookup=self.lookup,
            model=self.model,
            kind=kind,
            children=freeze_all(self.children),
            annotations=tuple(sorted(self.annotations.items())),
            only=self.id_columns if ids_only and kind is Kind.PREFETCH else None,
            queryset=self.queryset,
            user_queryset=self.queryset is not None,
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


def freeze_all(children: dict[str, _Draft]) -> tuple[Relation, ...]:
    return tuple(children[name].freeze() for name in sorted(children))


class _Planner:
    """One planning run over one serializer tree."""

    def __init__(self, root: serializers.BaseSerializer[Any]) -> None:
        self.root_name = type(root).__name__
        self.warnings: list[str] = []
        self.unresolved: list[tuple[str, str]] = []
        self.dynamic = False

    def warn(self, walk: _Walk, message: str) -> None:
        text = f"{walk.where()}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)

    # ------------------------------------------------------------- serializers

    def serializer(self, serializer: Any, draft: _Draft, walk: _Walk) -> None:
        cls = type(serializer)
        if walk.stack.count(cls) >= MAX_SELF_NESTING:
            self.warn(
                walk,
                f"{cls.__name__} nests itself; it is planned {MAX_SELF_NESTING} levels deep "
                "and deeper levels load on demand.",
            )
            return
        self.dynamic = self.dynamic or _is_dynamic(cls)
        inner = _Walk(walk.serializer, walk.path, (*walk.stack, cls))
        fields = [field for field in serializer.fields.values() if not field.write_only]
        # Method fields first: their hints may declare a ``to_attr`` another field reads.
        fields.sort(key=lambda field: not isinstance(field, SerializerMethodField))
        for field in fields:
            self.field(field, draft, inner.enter(field.field_name))

    def field(self, field: Field[Any, Any, Any, Any], draft: _Draft, walk: _Walk) -> None:
        for cls in type(field).__mro__:
            handler = _HANDLERS.get(cls)
            if handler is not None:
                handler(self, field, draft, walk)
                return

    def plain(self, field: Any, draft: _Draft, walk: _Walk) -> None:
        if not field.source_attrs:
            self._star_field(field, walk)
            return
        target = self.follow(field.source_attrs, draft, walk)
        if target is not None and target is not draft:
            target.rows_read = True  # str() of a related object

    def _star_field(self, field: Any, walk: _Walk) -> None:
        if type(field).__module__.startswith("rest_framework."):
            return
        self.warn(
            walk,
            f"{type(field).__name__} with source='*' receives the whole object and the "
            "planner cannot see what it reads; it is left unoptimized.",
        )

    def nested(self, field: Any, draft: _Draft, walk: _Walk) -> None:
        target = self.follow(field.source_attrs, draft, walk, nested=True)
        if target is not None and target is not draft and target.to_many:
            owner = target.parent.model if target.parent is not None else None
            label = owner._meta.label if owner is not None else "its model"
            raise PlanError(
                f"{walk.where()}: {target.attr} is a to-many relation of {label}; declare "
                "the nested serializer with many=True."
            )
        if target is not None:
            target.rows_read = True
            self.serializer(field, target, walk)

    def many(self, field: Any, draft: _Draft, walk: _Walk) -> None:
        target = self.follow(field.source_attrs, draft, walk, nested=True)
        if target is not None:
            target.rows_read = True
            self.serializer(field.child, target, walk)

    def related(self, field: Any, draft: _Draft, walk: _Walk) -> None:
        pk_only = field.use_pk_only_optimization()
        target = self.follow(field.source_attrs, draft, walk, pk_only=pk_only)
        if target is not None and target is not draft:
            self.loaded_row(field, target, walk)

    def many_related(self, field: Any, draft: _Draft, walk: _Walk) -> None:
        target = self.follow(field.source_attrs, draft, walk)
        if target is None or target is draft:
            return
        child = field.child_relation
        if not child.use_pk_only_optimization():
            self.loaded_row(child, target, walk)

    def loaded_row(self, field: Any, target: _Draft, walk: _Walk) -> None:
        target.rows_read = True
        if isinstance(field, StringRelatedField) and target.model is not None:
            declared = get_hints(inspect.getattr_static(target.model, "__str__"))
            if declared is not None:
                self.hints(declared, target, walk, f"{target.model.__name__}.__str__")

    def method(self, field: Any, draft: _Draft, walk: _Walk) -> None:
        method = getattr(type(field.parent), field.method_name, None)
        declared = get_hints(method)
        if declared is None:
            self.warn(
                walk,
                f"method field {field.method_name}() has no hints; decorate it with "
                "@hints(...) naming what it reads, or its queries run once per row.",
            )
            return
        self.hints(declared, draft, walk, f"{type(field.parent).__name__}.{field.method_name}")

    # ---------------------------------------------------------------- sources

    def follow(
        self,
        attrs: list[str],
        draft: _Draft,
        walk: _Walk,
        *,
        pk_only: bool = False,
        nested: bool = False,
    ) -> _Draft | None:
        """Walk a ``source`` path; the draft holding the value, or None if nothing loads."""
        current = draft
        for index, name in enumerate(attrs):
            if current is not draft and current.to_many:
                # ``source="books.all"`` reads the manager: the prefetch serves it.
                if name == "all":
                    continue
                self.warn(walk, f"{name!r} is called on a to-many relation once per row.")
                return None
            last = index == len(attrs) - 1
            step = self.step(
                current, name, walk, pk_only=pk_only and last, nested=nested, last=last
            )
            if step is None:
                return None
            current = step
            current.readers.append(walk.where())
        return current

    def step(
        self, draft: _Draft, name: str, walk: _Walk, *, pk_only: bool, nested: bool, last: bool
    ) -> _Draft | None:
        if draft.model is None:
            if nested:
                self.warn(walk, "fields below a generic foreign key are not optimized yet.")
            return None
        attr = model_attrs(draft.model).get(name)
        if attr is not None:
            if attr.kind is None or (pk_only and attr.attname):
                return None
            return draft.relation(name, attr)
        if name in draft.children:  # a ``to_attr`` declared by hints
            return draft.children[name]
        return self.opaque(draft, name, walk, nested=nested, last=last)

    def opaque(
        self, draft: _Draft, name: str, walk: _Walk, *, nested: bool, last: bool
    ) -> _Draft | None:
        model = draft.model
        assert model is not None
        try:
            member = inspect.getattr_static(model, name)
        except AttributeError:
            message = (
                f"{walk.where()}: source {name!r} names nothing on {model._meta.label}. "
                f"Fix the field's source; relations of {model.__name__}: "
                f"{_relation_names(model)}."
            )
            if not (last and not nested and draft.kind is None):
                raise PlanError(message) from None
            # Maybe an annotation of the view's queryset: decided when the plan meets it.
            self.unresolved.append(
                (
                    name,
                    f"{message} (An annotation of that name on the queryset the plan "
                    "is applied to is accepted.)",
                )
            )
            return None
        owner = f"{model.__name__}.{name}"
        declared = get_hints(member)
        if declared is None:
            self.warn(
                walk,
                f"{owner} is a {_member_kind(member)} the planner cannot see into; decorate "
                "it with @hints(...) naming what it reads.",
            )
            return None
        self.hints(declared, draft, walk, owner)
        if name in draft.children:
            return draft.children[name]
        if nested:
            self.warn(
                walk,
                f"the nested serializer reads what {owner} returns; its relations are not "
                "optimized. Declare a Prefetch with to_attr={name!r} in its hints to plan them.",
            )
        return None

    # ------------------------------------------------------------------ hints

    def hints(self, declared: Hints, draft: _Draft, walk: _Walk, owner: str) -> None:
        for path in declared.select_related:
            self.hinted_path(path, draft, walk, owner)
        for item in declared.prefetch_related:
            if isinstance(item, str):
                self.hinted_path(item, draft, walk, owner)
            else:
                self.hinted_prefetch(item, draft, walk, owner)
        draft.rows_read = True
        draft.annotations.update(declared.annotate)

    def _relation_of(self, draft: _Draft, name: str, walk: _Walk, owner: str, path: str) -> _Attr:
        model = draft.model
        attr = model_attrs(model).get(name) if model is not None else None
        if attr is None or attr.kind is None:
            label = model._meta.label if model is not None else "a generic relation"
            raise PlanError(
                f"{walk.where()}: hint {path!r} on {owner}: {name!r} is not a relation of "
                f"{label}. Relations of {label}: "
                f"{_relation_names(model) if model is not None else '(unknown)'}."
            )
        return attr

    def hinted_path(self, path: str, draft: _Draft, walk: _Walk, owner: str) -> None:
        current = draft
        for name in path.split("__"):
            current = current.relation(name, self._relation_of(current, name, walk, owner, path))
            current.rows_read = True

    def hinted_prefetch(self, prefetch: Any, draft: _Draft, walk: _Walk, owner: str) -> None:
        through = getattr(prefetch, "prefetch_through", None)
        if not isinstance(through, str):
            raise PlanError(
                f"{walk.where()}: hints on {owner} take lookup strings and Prefetch objects "
                f"in prefetch_related, not {prefetch!r}."
            )
        *head, last = through.split("__")
        current = draft
        for name in head:
            current = current.relation(name, self._relation_of(current, name, walk, owner, through))
            current.rows_read = True
        attr = self._relation_of(current, last, walk, owner, through)
        self._check_prefetch(prefetch, current, attr, walk, owner)
        target = current.relation(prefetch.to_attr or last, attr, lookup=last)
        target.rows_read = True
        if attr.kind is Kind.GENERIC:  # GenericPrefetch: one queryset per content type
            self._fill(target, tuple(prefetch.querysets), prefetch, walk, owner)
        elif prefetch.queryset is not None:
            self._fill(target, prefetch.queryset, prefetch, walk, owner)

    def _fill(self, target: _Draft, queryset: Any, prefetch: Any, walk: _Walk, owner: str) -> None:
        """Give ``target`` the queryset of a hinted ``Prefetch``; two different ones clash."""
        if target.queryset is not None and not _same_rows(target.queryset, queryset):
            raise PlanError(
                f"{walk.where()}: Prefetch({prefetch.prefetch_through!r}) in the hints of "
                f"{owner} fills {target.attr!r} with another queryset than the hints of "
                f"{target.queryset_owner} do; give one of the two Prefetch objects another "
                "to_attr."
            )
        target.queryset = queryset
        target.queryset_owner = owner

    def _check_prefetch(
        self, prefetch: Any, draft: _Draft, attr: _Attr, walk: _Walk, owner: str
    ) -> None:
        where = f"{walk.where()}: Prefetch({prefetch.prefetch_through!r}) in the hints of {owner}"
        if attr.kind is Kind.GENERIC and hasattr(prefetch, "querysets"):
            return
        if attr.kind is not Kind.PREFETCH:
            raise PlanError(
                f"{where} names a single-valued relation; use select_related="
                f"[{prefetch.prefetch_through!r}] instead."
            )
        to_attr = prefetch.to_attr
        if to_attr and draft.model is not None and to_attr in model_attrs(draft.model):
            raise PlanError(
                f"{where} sets to_attr={to_attr!r}, which is a field of "
                f"{draft.model._meta.label}; choose another name."
            )
        queryset = prefetch.queryset
        if queryset is not None and attr.model is not None and queryset.model is not attr.model:
            raise PlanError(
                f"{where} has a queryset of {queryset.model._meta.label}, but the relation "
                f"holds {attr.model._meta.label}."
            )


def _same_rows(left: Any, right: Any) -> bool:
    """Whether two querysets from hints (or tuples of them) select the same rows.

    Compared without SQL, so planning never needs a database connection.
    """
    if isinstance(left, tuple) or isinstance(right, tuple):
        return (
            isinstance(left, tuple)
            and isinstance(right, tuple)
            and len(left) == len(right)
            and all(map(_same_rows, left, right))
        )
    if left is right:
        return True
    mine, theirs = left.query, right.query
    return bool(
        left.model is right.model
        and mine.where == theirs.where
        and mine.order_by == theirs.order_by
        and mine.distinct == theirs.distinct
        and (mine.low_mark, mine.high_mark) == (theirs.low_mark, theirs.high_mark)
    )


def _member_kind(member: object) -> str:
    if isinstance(member, property):
        return "property"
    if callable(member):
        return "method"
    return "attribute"


def _is_dynamic(cls: type) -> bool:
    for klass in cls.__mro__:
        if not issubclass(klass, Field) or klass.__module__.startswith("rest_framework."):
            continue
        if any(name in vars(klass) for name in _DYNAMIC_MEMBERS):
            return True
    return False


_Handler = Callable[[_Planner, Any, _Draft, _Walk], None]

#: Field class -> planning function; the most specific class in the MRO wins.
_HANDLERS: dict[type, _Handler] = {
    serializers.ListSerializer: _Planner.many,
    serializers.BaseSerializer: _Planner.nested,
    ManyRelatedField: _Planner.many_related,
    RelatedField: _Planner.related,
    SerializerMethodField: _Planner.method,
    Field: _Planner.plain,
}


# ----------------------------------------------------------------- entry point


def serializer_model(serializer_class: type) -> type[Model] | None:
    """The model a serializer class names in ``Meta.model``, or ``None``."""
    model = getattr(getattr(serializer_class, "Meta", None), "model", None)
    return model if isinstance(model, type) and issubclass(model, Model) else None


def _model_of(serializer_class: type) -> type[Model]:
    model = serializer_model(serializer_class)
    if model is None:
        raise PlanError(
            f"{serializer_class.__name__} has no Meta.model; plan_for() needs a "
            "ModelSerializer (or a serializer whose Meta names its model)."
        )
    return model


def build_plan(serializer: serializers.BaseSerializer[Any]) -> tuple[Plan, bool]:
    """Plan one serializer instance; also say whether its fields depend on context."""
    model = _model_of(type(serializer))
    planner = _Planner(serializer)
    root = _Draft(model)
    planner.serializer(serializer, root, _Walk(type(serializer).__name__))
    plan = Plan(
        model=model,
        relations=freeze_all(root.children),
        annotation_items=tuple(sorted(root.annotations.items())),
        warnings=tuple(planner.warnings),
        unresolved=tuple(planner.unresolved),
    )
    return plan, planner.dynamic


def _signature(serializer: Any, stack: tuple[type, ...] = ()) -> tuple[Any, ...]:
    """The field selection of a serializer tree, as a hashable value."""
    cls = type(serializer)
    if stack.count(cls) >= MAX_SELF_NESTING:
        return (cls,)
    items: list[Any] = []
    for name, field in serializer.fields.items():
        child = getattr(field, "child", field)
        nested = (
            _signature(child, (*stack, cls))
            if isinstance(child, serializers.BaseSerializer)
            else ()
        )
        items.append((name, type(field), field.source, nested))
    return (cls, tuple(items))


_lock = threading.RLock()
_static: dict[type, Plan] = {}
_dynamic: dict[tuple[Any, ...], Plan] = {}
_dynamic_classes: set[type] = set()
#: How many plans were built (not served from cache), for tests and diagnostics.
build_count = 0


def plan_for(
    serializer_class: type[serializers.BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan of ``serializer_class``: what to join and prefetch for its model.

    Computed once per serializer class (and per field selection, for serializers whose
    fields depend on their context) and cached.
    """
    return _cached_plan(serializer_class, context, provided=())


def plan_for_queryset(
    serializer_class: type[serializers.BaseSerializer[Any]],
    queryset: Any,
    *,
    context: Mapping[str, Any] | None = None,
) -> Plan:
    """:func:`plan_for`, where root fields may read annotations ``queryset`` already has.

    A serializer field reading ``book_count`` from ``Author.objects.annotate(
    book_count=...)`` names nothing on the model; it is fine when the queryset the
    plan is applied to provides it.
    """
    return _cached_plan(serializer_class, context, provided=queryset.query.annotations)


def _cached_plan(
    serializer_class: type, context: Mapping[str, Any] | None, provided: Container[str]
) -> Plan:
    plan = _static.get(serializer_class)
    if plan is None:
        plan = _plan_uncached(serializer_class, context)
    check_unresolved(plan, provided)
    return _enforce(plan)


def check_unresolved(plan: Plan, provided: Container[str]) -> None:
    """Raise ``PlanError`` for a root field naming nothing the model or ``provided`` has."""
    for name, message in plan.unresolved:
        if name not in provided:
            raise PlanError(message)


def _plan_uncached(serializer_class: type, context: Mapping[str, Any] | None) -> Plan:
    if not (isinstance(serializer_class, type) and issubclass(serializer_class, Field)):
        raise TypeError(f"plan_for() takes a serializer class, not {serializer_class!r}.")
    factory: Any = serializer_class
    serializer: Any = factory(context=dict(context or {}))
    key = None
    if serializer_class in _dynamic_classes:
        key = _signature(serializer)
        plan = _dynamic.get(key)
        if plan is not None:
            return plan
    global build_count
    with _lock:
        if key is None and serializer_class in _dynamic_classes:  # planned meanwhile
            key = _signature(serializer)
        cached = _static.get(serializer_class) or (_dynamic.get(key) if key else None)
        if cached is not None:
            return cached
        plan, dynamic = build_plan(serializer)
        build_count += 1
        if dynamic:
            _dynamic_classes.add(serializer_class)
            _dynamic[key or _signature(serializer)] = plan
        else:
            _static[serializer_class] = plan
    _report(plan)
    return plan


def _report(plan: Plan) -> None:
    if plan.warnings and conf.settings.ON_UNPLANNABLE == "warn":
        for warning in plan.warnings:
            logger.warning("drf_autoprefetch: %s", warning)


def _enforce(plan: Plan) -> Plan:
    if plan.warnings and conf.settings.ON_UNPLANNABLE == "raise":
        raise PlanError(
            "The planner cannot see through these fields (ON_UNPLANNABLE='raise'):\n"
            + "\n".join(f"- {warning}" for warning in plan.warnings)
        )
    return plan


def clear_cache() -> None:
    """Forget every cached plan (tests, or after changing serializers at run time)."""
    global build_count
    with _lock:
        _static.clear()
        _dynamic.clear()
        _dynamic_classes.clear()
        build_count = 0
        model_attrs.cache_clear()
