"""Planning: from a serializer class to a :class:`~drf_autoprefetch.plan.Plan`.

The planner reads DRF's field tree and Django's model metadata. It never builds a
QuerySet and never runs a query, so its tests need no database.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Container, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, cast

from django.core.signals import setting_changed
from django.db.models import Model
from rest_framework import serializers
from rest_framework.fields import Field, SerializerMethodField, empty
from rest_framework.relations import (
    HyperlinkedIdentityField,
    HyperlinkedRelatedField,
    ManyRelatedField,
    PrimaryKeyRelatedField,
    RelatedField,
    SlugRelatedField,
    StringRelatedField,
)
from rest_framework.serializers import BaseSerializer

from drf_autoprefetch import conf
from drf_autoprefetch.closed import builds_from_arguments
from drf_autoprefetch.columns import Pruning, relation_field
from drf_autoprefetch.drafts import (
    Draft,
    Freezing,
    Walk,
    Warnings,
    find,
    fold_back_references,
    freeze_all,
    leave_alone,
    splittable,
)
from drf_autoprefetch.exceptions import ModelMismatch, PlanError
from drf_autoprefetch.hinted import apply_hints
from drf_autoprefetch.hinting import Hints, get_hints
from drf_autoprefetch.inference import infer
from drf_autoprefetch.inference.reading import renders_alone
from drf_autoprefetch.inference.resolving import code_of as _code_of
from drf_autoprefetch.modelinfo import (
    close_names,
    display_column,
    manager_annotations,
    model_attrs,
    relation_names,
    runs_code_on_load,
)
from drf_autoprefetch.plan import Missing, Plan
from drf_autoprefetch.selection import (
    DYNAMIC_MEMBERS,
    SELECTION_METHOD,
    ContextReads,
    Selection,
    Unfrozen,
    as_rendered,
    build_kwargs,
    freeze,
    selector_of,
)
from drf_autoprefetch.suggest import hints_line
from drf_autoprefetch.tree import Conditions, conditions_of, joined_paths
from drf_autoprefetch.widths import wide_joins

__all__ = [
    "build_plan",
    "check_unresolved",
    "clear_cache",
    "needs_context",
    "plan_failed",
    "plan_for",
    "plan_for_queryset",
    "serializer_model",
]

logger = logging.getLogger(__name__)

#: How many times one serializer class may nest itself before the planner stops.
MAX_SELF_NESTING = 3

#: Methods whose override makes a serializer's fields depend on its context.
_DYNAMIC_MEMBERS = DYNAMIC_MEMBERS


# ------------------------------------------------------------------- fields


def _drf_code(cls: type, name: str) -> bool:
    """Whether ``cls.<name>`` is Django REST Framework's own code (not overridden)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass.__module__.startswith("rest_framework.")
    return True


def _defining_class(cls: type, name: str) -> str:
    """The name of the class in ``cls``'s MRO that defines ``name``."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return _class_name(klass)
    return _class_name(cls)


def _class_name(cls: type) -> str:
    """A class's name, with its module where DRF has a class of that name."""
    if hasattr(serializers, cls.__name__) and not cls.__module__.startswith("rest_framework."):
        return f"{cls.__module__}.{cls.__qualname__}"
    return cls.__qualname__


def _custom_code_warning(field: Any, owner: str) -> str:
    """What to say of a field or serializer whose ``to_representation`` is its own."""
    name = _class_name(type(field))
    decorate = f"Decorate {owner} (or the class) with @hints(...) naming what it reads"
    if isinstance(field, serializers.ListSerializer):
        return (
            f"{name} overrides to_representation, which the planner cannot see into; the "
            f"relation is left to it, not loaded for it. {decorate}, or bare @hints() if it "
            "renders the rows it is given."
        )
    what = "overrides" if isinstance(field, BaseSerializer) else "has its own"
    return (
        f"{name} {what} to_representation, which the planner cannot see into; what it "
        f"reads beyond the declared fields runs once per row. {decorate}, or bare @hints() "
        "if it reads no relation."
    )


def _declared_reader(cls: type) -> Hints | None:
    """Hints on a field or serializer class's ``to_representation``, or on the class."""
    for klass in cls.__mro__:
        known = _KNOWN_READERS.get(f"{klass.__module__}.{klass.__qualname__}")
        if known is not None and not _overrides_below(cls, klass):
            return known
    return (
        get_hints(getattr(cls, "to_representation", None))
        or get_hints(getattr(cls, "get_attribute", None))
        or get_hints(cls)
    )


def _overrides_below(cls: type, base: type) -> bool:
    """Whether a class between ``cls`` and ``base`` overrides ``to_representation``."""
    for klass in cls.__mro__:
        if klass is base:
            return False
        if "to_representation" in vars(klass):
            return True
    return False


#: Third-party fields known to read nothing but the rows they are given.
_KNOWN_READERS: dict[str, Hints] = {
    "taggit.serializers.TagListSerializerField": Hints(),
}


def _fatal_if_missing(field: Any) -> bool:
    """Whether DRF fails to render ``field`` when its source attribute is missing: a
    required field with no default that does not allow null (never a read-only one)."""
    return bool(
        getattr(field, "required", False)
        and getattr(field, "default", empty) is empty
        and not getattr(field, "allow_null", False)
    )


@dataclass(frozen=True)
class _Source:
    """One field's ``source`` walk: the field, and how its last step is read."""

    field: Any
    pk_only: bool = False
    nested: bool = False


class _Planner:
    """One planning run over one serializer tree."""

    def __init__(
        self, root: serializers.BaseSerializer[Any], selection: Selection | None = None
    ) -> None:
        self.root_name = type(root).__name__
        #: The fields a request renders; the others are not planned.
        self.selection = None if selection is None or selection.everything else selection
        self.warnings = Warnings()
        self.unresolved: list[Missing] = []
        self.columns: list[str] = []
        #: Relations some inferred code reads the loading of: ``(path of their parent,
        #: name or None, to-many)``; the plan leaves them unloaded.
        self.left_alone: list[tuple[str, str | None, bool]] = []
        self.dynamic = False
        #: Inside a serializer that code builds (found by inference): a source naming
        #: nothing is never an error there, whatever the field says.
        self.lenient = False

    def renders(self, walk: Walk) -> bool:
        """Whether the field at ``walk`` is rendered (in the selection, if any)."""
        return self.selection is None or self.selection.admits(walk.path)

    def warn(self, walk: Walk, message: str, hint: str | None = None) -> None:
        self.warnings.add(walk.where(), message, hint)

    # ------------------------------------------------------------- serializers

    def serializer(self, serializer: Any, draft: Draft, walk: Walk) -> None:
        cls = type(serializer)
        if walk.stack.count(cls) >= MAX_SELF_NESTING:
            self.warn(
                walk,
                f"{cls.__name__} nests itself; it is planned {MAX_SELF_NESTING} levels deep "
                "and deeper levels load on demand.",
            )
            return
        self.dynamic = self.dynamic or _is_dynamic(cls)
        self.custom_code(serializer, draft, walk)
        if _renders_without_fields(cls):
            return  # its declared fields render nothing: what its code reads is planned
        inner = Walk(walk.serializer, walk.path, (*walk.stack, cls))
        fields = [
            field
            for field in serializer.fields.values()
            if not field.write_only and self.renders(inner.enter(field.field_name))
        ]
        # Method fields first: their hints may declare a ``to_attr`` another field reads.
        fields.sort(key=lambda field: not isinstance(field, SerializerMethodField))
        for field in fields:
            self.field(field, draft, inner.enter(field.field_name))

    def field(self, field: Field[Any, Any, Any, Any], draft: Draft, walk: Walk) -> None:
        if not _drf_code(type(field), "get_attribute"):
            self._whole_object(field, draft, walk, "overrides get_attribute, so it")
            return
        for cls in type(field).__mro__:
            handler = _HANDLERS.get(cls)
            if handler is not None:
                handler(self, field, draft, walk)
                return

    def custom_code(self, field: Any, target: Draft, walk: Walk) -> None:
        """A field or serializer whose ``to_representation`` is the user's own code: its
        hints are planned at ``target`` (the object it receives), else it is a warning."""
        cls = type(field)
        if _drf_code(cls, "to_representation"):
            return
        declared = _declared_reader(cls)
        owner = f"{_defining_class(cls, 'to_representation')}.to_representation"
        if declared is not None and target.model is not None:
            apply_hints(declared, target, walk, owner)
            return
        if declared is not None:
            return
        target.whole_row = True
        code = getattr(cls, "to_representation", None)
        if isinstance(field, serializers.ListSerializer):
            target.opaque = True
            self.warn(walk, _custom_code_warning(field, owner))
        elif not self.inferred(code, 1, target, walk, owner):
            target.opaque = True
            hint = self.suggestion(target.model, code, 1, owner)
            self.warn(walk, _custom_code_warning(field, owner), hint)

    def inferred(self, function: Any, subject: int, draft: Draft, walk: Walk, owner: str) -> bool:
        """Plan what ``function`` reads from its parameter ``subject`` (an instance of
        ``draft``'s model), read from its source; whether it was understood in full.

        Each problem met is a warning of its own (a query no prefetch serves, an object
        handed to code not followed); code whose source cannot be read is not understood.
        """
        if not conf.settings.INFER or draft.model is None or function is None:
            return False
        found = infer(draft.model, function, subject, owner)
        if found is None:
            return False
        for path, origin in found.paths.items():
            unless = _below(draft.path, found.unless.get(path))
            self._load_inferred(draft, path, f"inferred from {origin}", unless)
        for path, serializer_class in found.nested:
            self._nested_inferred(draft, path, serializer_class, walk)
        for mark in found.left_alone:
            where = "__".join(part for part in (draft.path, mark.path) if part)
            self.left_alone.append((where, mark.name, mark.many))
        for problem in found.problems:
            self.warn(walk, problem, found.hints.get(problem))
        return True

    @staticmethod
    def suggestion(model: Any, function: Any, subject: int, owner: str) -> str | None:
        """The ``@hints(...)`` line declaring what ``function`` reads, as far as reading
        its source tells (whatever ``INFER`` says), for ``prefetch_plans --suggest``."""
        if model is None or function is None:
            return None
        found = infer(model, function, subject, owner)
        if found is None or found.problems:
            return None  # code that queries, or is not followed: no hint would cover it
        return f"{hints_line(model, list(found.paths))} on {owner}"

    def _load_inferred(
        self, draft: Draft, path: str, origin: str, unless: Conditions = None
    ) -> None:
        current = draft
        for name in path.split("__"):
            assert current.model is not None
            attr = model_attrs(current.model)[name]
            current = current.relation(name, attr, origin=origin, unless=unless)
            current.rows_read = True
            current.whole_row = True  # what the code reads of these rows is not known

    def _nested_inferred(self, draft: Draft, path: str, serializer_class: type, walk: Walk) -> None:
        """A serializer the code builds over related rows, planned below them."""
        target: Draft | None = draft
        for name in path.split("__") if path else ():
            target = target.children.get(name) if target is not None else None
        if target is None:
            return  # rows not loaded for it (read through a member): nothing to plan below
        where = walk.enter(path.replace("__", ".")) if path else walk
        lenient, self.lenient = self.lenient, True
        try:
            self.serializer(serializer_class(context={}), target, where)
        except Exception as exc:  # a serializer rendering what the code set on the rows
            self.warn(
                walk,
                f"{serializer_class.__name__}, built in code, is not planned: "
                f"{type(exc).__name__}: {exc}",
            )
        finally:
            self.lenient = lenient

    def plain(self, field: Any, draft: Draft, walk: Walk) -> None:
        if not field.source_attrs:
            self._star_field(field, draft, walk)
            return
        target = self.follow(field.source_attrs, draft, walk, _Source(field))
        if target is not None and target is not draft:
            target.rows_read = True  # str() of a related object, or a custom field
            target.whole_row = True
            self.custom_code(field, target, walk)

    def _star_field(self, field: Any, draft: Draft, walk: Walk) -> None:
        if type(field).__module__.startswith("rest_framework."):
            if isinstance(field, HyperlinkedIdentityField):
                _read_column(draft, field.lookup_field)
            else:
                draft.whole_row = True
            return
        self._whole_object(field, draft, walk, "with source='*'")

    def _whole_object(self, field: Any, draft: Draft, walk: Walk, why: str) -> None:
        """A field handed the whole object (``source='*'``, or its own ``get_attribute``):
        what its hints declare, else a warning; its ``source`` is not followed."""
        declared = _declared_reader(type(field))
        if declared is not None:
            apply_hints(declared, draft, walk, f"{type(field).__name__}.to_representation")
            return
        draft.whole_row = draft.opaque = True
        self.warn(
            walk,
            f"{_class_name(type(field))} {why} receives the whole object and the planner "
            "cannot see what it reads; it is left unoptimized. Decorate its "
            "to_representation or get_attribute (or the class) with @hints(...) naming what "
            "it reads.",
        )

    def nested(self, field: Any, draft: Draft, walk: Walk) -> None:
        target = self.follow(field.source_attrs, draft, walk, _Source(field, nested=True))
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

    def many(self, field: Any, draft: Draft, walk: Walk) -> None:
        cls = type(field)
        if not _drf_code(cls, "to_representation") and _declared_reader(cls) is None:
            # A list serializer of its own may not read the relation at all (it may
            # query something else): loading it would be a query for nothing.
            self.custom_code(field, draft, walk)
            return
        target = self.follow(field.source_attrs, draft, walk, _Source(field, nested=True))
        if target is not None:
            target.rows_read = True
            self.custom_code(field, target, walk)
            self.serializer(field.child, target, walk)

    def related(self, field: Any, draft: Draft, walk: Walk) -> None:
        # DRF itself hands a pk-only field a stand-in holding the key: nothing to load.
        pk_only = field.use_pk_only_optimization()
        target = self.follow(field.source_attrs, draft, walk, _Source(field, pk_only=pk_only))
        if target is not None and target is not draft:
            self.loaded_row(field, target, walk)

    def many_related(self, field: Any, draft: Draft, walk: Walk) -> None:
        target = self.follow(field.source_attrs, draft, walk, _Source(field))
        if target is None or target is draft:
            return
        if field.source_attrs[-1] == "all":
            source = ".".join(field.source_attrs[:-1])
            self.warn(
                walk,
                f"DRF calls .all() again on what source={field.source!r} returns, which reads "
                f"the rows once per row whatever was prefetched; write source={source!r}.",
            )
            return
        child = field.child_relation
        # A list of related fields gets whole rows: keys alone serve only DRF's own code.
        if not (child.use_pk_only_optimization() and _drf_code(type(child), "to_representation")):
            self.loaded_row(child, target, walk)

    def loaded_row(self, field: Any, target: Draft, walk: Walk) -> None:
        target.rows_read = True
        if isinstance(field, StringRelatedField) and target.model is not None:
            text = inspect.getattr_static(target.model, "__str__")
            declared = get_hints(text)
            owner = f"{target.model.__name__}.__str__"
            if declared is not None:
                apply_hints(declared, target, walk, owner)
            elif text is Model.__str__:
                target.reads.add("pk")  # Django's own __str__ shows the primary key
            else:
                target.whole_row = True  # e.g. AbstractUser's: the username
                if not str(getattr(text, "__module__", "")).startswith("django."):
                    self.inferred(text, 0, target, walk, owner)
        else:
            _read_by_related_field(field, target)
        self.custom_code(field, target, walk)

    def method(self, field: Any, draft: Draft, walk: Walk) -> None:
        owner_class = type(field.parent)
        method = getattr(owner_class, field.method_name, None)
        declared = get_hints(method)
        owner = f"{_defining_class(owner_class, field.method_name)}.{field.method_name}"
        raw = inspect.getattr_static(owner_class, field.method_name, None)
        subject = 0 if isinstance(raw, staticmethod) else 1
        if declared is None:
            draft.whole_row = True
        if declared is None and self.inferred(method, subject, draft, walk, owner):
            return
        if declared is None:
            draft.opaque = True
            self.warn(
                walk,
                f"method field {owner}() has no hints; decorate it with @hints(...) naming "
                "what it reads, or the queries it runs, if any, run once per row.",
                self.suggestion(draft.model, method, subject, owner),
            )
            return
        apply_hints(declared, draft, walk, owner)

    # ---------------------------------------------------------------- sources

    def follow(self, attrs: list[str], draft: Draft, walk: Walk, source: _Source) -> Draft | None:
        """Walk a ``source`` path; the draft holding the value, or None if nothing loads."""
        current = draft
        for index, name in enumerate(attrs):
            last = index == len(attrs) - 1
            if current is not draft and current.to_many:
                return self._on_many(current, name, walk, last)
            step = self.step(current, name, walk, source, last=last)
            if step is None:
                return None
            current = step
            current.readers.append(walk.where())
        return current

    def _on_many(self, current: Draft, name: str, walk: Walk, last: bool) -> Draft | None:
        """``source="books.all"``, ``"books.count"``, ``"books.exists"``: served by the
        prefetch (``all`` hands its rows on; the other two read the prefetched rows)."""
        if name == "all" and last:
            return current
        if name in ("count", "exists") and last:
            return None
        self.warn(walk, f"{name!r} is called on a to-many relation once per row.")
        return None

    def step(
        self, draft: Draft, name: str, walk: Walk, source: _Source, *, last: bool
    ) -> Draft | None:
        if draft.model is None:
            if source.nested:
                self.warn(walk, "fields below a generic foreign key are not optimized yet.")
            return None
        attr = model_attrs(draft.model).get(name)
        if attr is not None:
            if attr.kind is None or (source.pk_only and last and attr.attname):
                draft.reads.add(name)
                if draft.is_root:
                    self.columns.append(name)
                return None
            return draft.relation(name, attr)
        if name in draft.children:  # a ``to_attr`` declared by hints
            return draft.children[name]
        return self.opaque(draft, name, walk, source, last=last)

    def opaque(
        self, draft: Draft, name: str, walk: Walk, source: _Source, *, last: bool
    ) -> Draft | None:
        model = draft.model
        assert model is not None
        try:
            member = inspect.getattr_static(model, name)
        except AttributeError:
            self.missing(draft, name, walk, source, last=last)
            return None
        column = display_column(model, name)
        if column is not None and isinstance(member, functools.partialmethod):
            draft.reads.add(column)
            if draft.is_root:
                self.columns.append(column)
            return None  # Django's get_<field>_display() reads the column
        owner = f"{model.__name__}.{name}"
        declared = get_hints(member)
        if declared is None:
            draft.whole_row = True  # code whose columns are not known reads the row
        if declared is None and self.inferred(_code_of(member), 0, draft, walk, owner):
            if source.nested:
                self.warn(walk, _nested_on_member(owner, name, member))
            return None
        if declared is None:
            draft.opaque = True
            self.warn(
                walk,
                f"{owner} is {_member_kind(member)} the planner cannot see into; decorate "
                "it with @hints(...) naming what it reads.",
                self.suggestion(model, _code_of(member), 0, owner),
            )
            return None
        apply_hints(declared, draft, walk, owner)
        if name in draft.children:
            return draft.children[name]
        if source.nested:
            self.warn(walk, _nested_on_member(owner, name, member))
        return None

    def missing(self, draft: Draft, name: str, walk: Walk, source: _Source, *, last: bool) -> None:
        """A source naming nothing on the model.

        An error where DRF itself would fail to render the field, unless the queryset
        the plan is applied to provides the name (see :class:`Missing`); otherwise (DRF
        renders its default or leaves it out) a warning, the field left unoptimized.
        Prefetched rows carry what their model's default manager annotates, and a model
        running code of its own as its rows load may set any attribute: both are fine.
        """
        model = draft.model
        assert model is not None
        if draft.to_many and name in manager_annotations(model):
            return  # the prefetch, built from the default manager, brings it
        if draft.queryset is not None and name in set(_query_names(draft.queryset)):
            return  # the queryset of a Prefetch from hints brings it
        if runs_code_on_load(model):
            return  # an attribute that code may set: nothing to load for it either way
        fatal = _fatal_if_missing(source.field) and not self.lenient
        suggestion = close_names(model, name)
        guess = (
            f" Did you mean {' or '.join(repr(close) for close in suggestion)}?"
            if suggestion
            else ""
        )
        where = walk.where()
        missing = Missing(_lookup_path(draft, name), "", fatal, where=where)
        if fatal:
            message = (
                f"{where}: source {name!r} names nothing on {model._meta.label}. "
                f"Fix the field's source; relations of {model.__name__}: "
                f"{relation_names(model)}.{guess}"
            )
            if draft.is_root and last and not source.nested:
                message += (
                    " (An annotation of that name on the queryset the plan is applied to is "
                    "accepted.)"
                )
            warning = (
                f"source {name!r} names nothing on {model._meta.label}; DRF fails to render "
                "the field unless its rows carry it (an annotation or a Prefetch's to_attr of "
                "that name, an attribute code sets on them), which the planner cannot check "
                f"here.{guess}"
            )
            missing = replace(missing, message=message, warning=warning)
        else:
            message = (
                f"source {name!r} names nothing on {model._meta.label}; the field is left "
                "unoptimized (DRF renders its default, or leaves it out, where the attribute "
                f"is missing). If it is a typo, fix the source.{guess}"
            )
            missing = replace(missing, message=message)
            self.warn(walk, message)
        self.unresolved.append(missing)

    def resolved_missing(self) -> list[Missing]:
        """The missing names, each warning as the plan words it (with its paths)."""
        return [
            missing
            if missing.fatal
            else replace(missing, message=self.warnings.text_of(missing.message))
            for missing in self.unresolved
        ]


def _lookup_path(draft: Draft, name: str) -> str:
    """``name`` on the rows of ``draft``, as a lookup path from the root (``levels__sold``):
    how a queryset's ``Prefetch`` objects name what they provide."""
    names = [name]
    current: Draft | None = draft
    while current is not None and not current.is_root:
        names.append(current.lookup)
        current = current.parent
    return "__".join(reversed(names))


def _read_column(draft: Draft, name: str) -> None:
    """``name`` read from ``draft``'s rows: a column, else code (the whole row)."""
    attr = model_attrs(draft.model).get(name) if draft.model is not None else None
    if attr is not None and attr.kind is None:
        draft.reads.add(name)
    else:
        draft.whole_row = True


def _read_by_related_field(field: Any, target: Draft) -> None:
    """What DRF's own related fields read of the related row: the key, the slug or the
    URL's lookup field. A field class of its own reads what its hints say, or the row."""
    cls = type(field)
    if not cls.__module__.startswith("rest_framework."):
        if _declared_reader(cls) is None:
            target.whole_row = True
        return
    if isinstance(field, SlugRelatedField):
        _read_column(target, field.slug_field)
    elif isinstance(field, HyperlinkedRelatedField):
        _read_column(target, field.lookup_field)
    elif isinstance(field, PrimaryKeyRelatedField):
        target.reads.add("pk")
    else:
        target.whole_row = True


def _nested_on_member(owner: str, name: str, member: object) -> str:
    text = f"the nested serializer reads what {owner} returns; its relations are not optimized."
    if isinstance(member, functools.cached_property):  # a prefetch may fill it instead
        return f"{text} Declare a Prefetch with to_attr={name!r} in its hints to plan them."
    return (
        f"{text} To load them, declare in the hints of {owner} a Prefetch with a to_attr "
        f"of its own (not {name!r}: {owner} holds that name, so Django would never fill "
        "it) and return that attribute."
    )


def _member_kind(member: object) -> str:
    if isinstance(member, property):
        return "a property"
    if callable(member):
        return "a method"
    return "an attribute"


def _is_dynamic(cls: type) -> bool:
    """Whether a class of ``cls`` other than DRF's own (a mixin too) builds its fields."""
    for klass in cls.__mro__:
        if klass is object or klass.__module__.startswith("rest_framework."):
            continue
        if any(name in vars(klass) for name in _DYNAMIC_MEMBERS):
            return True
    return False


_Handler = Callable[[_Planner, Any, Draft, Walk], None]

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


def _renders_without_fields(cls: type) -> bool:
    """Whether the serializer class ``cls`` renders with its own ``to_representation``
    and without its declared fields (see :func:`renders_alone`), hints aside."""
    if _drf_code(cls, "to_representation") or _declared_reader(cls) is not None:
        return False
    return conf.settings.INFER and renders_alone(getattr(cls, "to_representation", None))


def _model_of(serializer_class: type) -> type[Model]:
    model = serializer_model(serializer_class)
    if model is None:
        raise PlanError(
            f"{serializer_class.__name__} has no Meta.model; plan_for() needs a "
            "ModelSerializer (or a serializer whose Meta names its model)."
        )
    return model


def build_plan(
    serializer: serializers.BaseSerializer[Any], selection: Selection | None = None
) -> tuple[Plan, bool]:
    """Plan one serializer instance (only the fields ``selection`` admits, if given);
    also say whether its fields depend on how it was built."""
    model = _model_of(type(serializer))
    planner = _Planner(serializer, selection)
    root = Draft(model)
    planner.serializer(serializer, root, Walk(type(serializer).__name__))
    leave_alone(root, planner.left_alone)
    # A selection method's answer does not prune columns: see Freezing.exact.
    exact = selection is None
    mode = pruning_of(type(serializer)) if exact else False
    splitting, paths = split_paths(type(serializer), root)
    # After the check of autoprefetch_split: a join back to the parent it names is valid,
    # and needs no query at all.
    planner.columns.extend(sorted(fold_back_references(root)))
    how = Freezing(planner.warnings, mode, paths, exact, wide=wide_joins(root, paths))
    relations = freeze_all(root.children, how)
    columns = root.columns(mode)
    plan = Plan(
        model=model,
        relations=relations,
        only=columns.only,
        columns_why=columns.why,
        annotation_items=tuple(sorted(root.annotations.items())),
        warnings=planner.warnings.texts(),
        causes=planner.warnings.causes(),
        suggestions=planner.warnings.suggestions(),
        unresolved=tuple(planner.resolved_missing()),
        columns=tuple(dict.fromkeys(planner.columns)),
        splitting=splitting,
        conditions=conditions_of(relations),
    )
    return plan, planner.dynamic


def _below(path: str, unless: Conditions) -> Conditions:
    """Conditions read from the rows at ``path`` (see :class:`Draft`), from the root."""
    if not unless or not path:
        return unless
    return tuple(frozenset(f"{path}__{name}" for name in each) for each in unless)


def split_paths(serializer_class: type, root: Draft) -> tuple[str | bool | None, frozenset[str]]:
    """Who decides how the to-one relations below to-many ones load (see
    :attr:`Plan.splitting`), and those that ``serializer_class`` asks to load by a query
    of their own (``autoprefetch_split``), checked against its plan."""
    declared = getattr(serializer_class, "autoprefetch_split", ())
    name = f"{serializer_class.__name__}.autoprefetch_split"
    if declared == "auto":
        return "auto", frozenset()
    if declared is False or declared is None:
        return False, frozenset()
    if isinstance(declared, str):
        declared = (declared,)
    if not isinstance(declared, (tuple, list, set, frozenset)):
        raise PlanError(
            f"{name} is {declared!r}; give a tuple of relation paths, 'auto' (the cost "
            "model decides) or False (the plan joins them all)."
        )
    for path in declared:
        draft = find(root, path)
        if draft is None or path not in splittable(root):
            candidates = ", ".join(splittable(root)) or "none"
            raise PlanError(
                f"{name} names {path!r}, which is not a single-valued relation the plan "
                f"joins below a to-many one; such relations of this plan: {candidates}."
            )
        if _unique_link(draft):
            raise PlanError(
                f"{name} names {path!r}, a one-to-one or unique relation: each row has its "
                "own target, so a query of its own never pays; remove it."
            )
    return (False if declared else None), frozenset(declared)


def _unique_link(draft: Draft) -> bool:
    parent = draft.parent
    if parent is None or parent.model is None:
        return False
    field: Any = relation_field(parent.model, draft.lookup)
    return field is None or bool(field.one_to_one or getattr(field, "unique", False))


def pruning_of(serializer_class: type) -> Pruning:
    """How the plan of ``serializer_class`` prunes columns: its
    ``autoprefetch_prune_columns`` attribute, else ``DRF_AUTOPREFETCH["PRUNE_COLUMNS"]``."""
    own = getattr(serializer_class, "autoprefetch_prune_columns", None)
    if own is None:
        return conf.settings.PRUNE_COLUMNS
    if own not in ("auto", True, False):
        raise PlanError(
            f"{serializer_class.__name__}.autoprefetch_prune_columns is {own!r}; use "
            "'auto', True or False (or None for the setting)."
        )
    return cast(Pruning, own)


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
        items.append((name, type(field), field.source, field.write_only, nested))
    return (cls, tuple(items))


#: How many plans of serializers whose fields vary per request (by their keyword
#: arguments, their context or a selection) are kept, and how many field trees.
DYNAMIC_CACHE_SIZE = 512

_lock = threading.RLock()
# Weak keys: serializer classes made per request (``type(...)``) are not kept alive.
_static: weakref.WeakKeyDictionary[type, Plan] = weakref.WeakKeyDictionary()
_dynamic: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
#: Field trees of serializers with a selection method, by class and ``build``.
_trees: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
#: Serializer classes whose fields vary -> the context keys their field-building code
#: read (``None``: it read the context whole, or a value no key can stand for).
_variance: weakref.WeakKeyDictionary[type, frozenset[str] | None] = weakref.WeakKeyDictionary()
#: How many plans were built (not served from cache), for tests and diagnostics.
build_count = 0


def plan_for(
    serializer_class: type[serializers.BaseSerializer[Any]],
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan of ``serializer_class``: what to join and prefetch for its model.

    ``kwargs`` are the keyword arguments the serializer is built with (``fields=`` for a
    serializer that takes it), ``context`` its context. Computed once per serializer
    class, and for serializers whose fields vary, once per distinct field selection
    (see :mod:`drf_autoprefetch.selection`); cached.
    """
    return _cached_plan(serializer_class, context, kwargs, provided=())


def needs_context(serializer_class: type, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether the plan of ``serializer_class`` built with ``kwargs`` may depend on the
    serializer context: not once it is cached under a key that holds no context value
    (a static plan, or fields whose building code read no context key), so a view
    need not build a context (which may run a query) to plan a request."""
    if serializer_class in _static:
        return False
    if selector_of(serializer_class) is not None or serializer_class not in _variance:
        return True  # a selection reads the request; or not built yet
    if _variance[serializer_class] != frozenset():
        return True  # context keys make the key (None: no key can)
    key = _variant_key(serializer_class, None, build_kwargs(kwargs))
    return key is None or key not in _dynamic


def has_static_plan(serializer_class: type) -> bool:
    """Whether the plan of ``serializer_class`` is cached and needs no context."""
    return serializer_class in _static


def plan_for_queryset(
    serializer_class: type[serializers.BaseSerializer[Any]],
    queryset: Any,
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    known: bool = True,
) -> Plan:
    """:func:`plan_for`, where root fields may read annotations ``queryset`` already has.

    A serializer field reading ``book_count`` from ``Author.objects.annotate(
    book_count=...)`` names nothing on the model; it is fine when the queryset the
    plan is applied to provides it. ``known=False`` says the rows rendered may carry
    more than ``queryset`` does (a view's own code sets attributes on them): such a
    name is then a warning, not an error.
    """
    plan = _resolved(serializer_class, context, kwargs)
    if not (plan.unresolved or plan.conditions):
        return _enforce(_reported(plan))
    names = provided_names(queryset)
    plan = check_unresolved(plan, names, known=known)
    return _enforce(_reported(_spared(plan, names)))


def _spared(plan: Plan, provided: Container[str]) -> Plan:
    """``plan`` for a queryset providing ``provided``: see :meth:`Plan.spared_by`. Kept
    per plan and names met (a queryset builds its rows alike request after request)."""
    own = {name for name, _ in plan.annotation_items}  # the plan's own annotations
    met = frozenset(name for name in plan.conditions if name in provided or name in own)
    if not met or not plan.relations:
        return plan
    # Kept with the plan's first relation, for this very tuple of relations.
    variants = plan.relations[0].memo.setdefault(_SPARED, {})
    key = (id(plan.relations), met, plan.warnings, plan.unresolved)
    found = variants.get(key)
    if found is None or found[0] is not plan.relations:
        found = variants[key] = (plan.relations, plan.spared_by(met))
    spared: Plan = found[1]
    return spared


#: The memo key of :func:`_spared` (no lookup path contains a space).
_SPARED = "spared ?"


def provided_names(queryset: Any) -> frozenset[str]:
    """Names the rows of ``queryset`` carry beyond the model: its annotations and
    ``extra()`` selects, the attributes its prefetches set (``to_attr``), what the
    querysets of its ``Prefetch`` objects carry (as lookup paths, ``levels__sold``), and
    the attributes of the first row when the rows are already read (a list, an evaluated
    QuerySet), such as values a view set on each row."""
    names = set(_query_names(queryset))
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


def _query_names(queryset: Any, prefix: str = "") -> Iterator[str]:
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
            yield from _query_names(inner, f"{prefix}{to}__")


def _cached_plan(
    serializer_class: type,
    context: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any] | None,
    provided: Container[str],
) -> Plan:
    plan = check_unresolved(_resolved(serializer_class, context, kwargs), provided)
    return _enforce(_reported(plan))


def _resolved(
    serializer_class: type, context: Mapping[str, Any] | None, kwargs: Mapping[str, Any] | None
) -> Plan:
    """The plan for these arguments, from a cache where it can be."""
    plan = _static.get(serializer_class)
    if plan is None:
        selector = selector_of(serializer_class)
        if selector is not None:
            plan = _selected_plan(serializer_class, selector, context, kwargs)
        else:
            plan = _plan_uncached(serializer_class, context, build_kwargs(kwargs))
    return plan


def check_unresolved(plan: Plan, provided: Container[str], *, known: bool = True) -> Plan:
    """``plan`` for a queryset providing ``provided``: the warnings of the names it
    provides dropped, and ``PlanError`` for a field DRF could not render, naming nothing
    the model or ``provided`` has. Where the queryset is not ``known`` (the start-up
    checks of a view building its own queryset), such a field is a warning instead: that
    queryset may provide the name."""
    if not plan.unresolved:
        return plan
    unseen = []
    for missing in plan.unresolved:
        if not missing.fatal or missing.name in provided:
            continue
        if known:
            raise PlanError(missing.message)
        unseen.append(missing)
    plan = plan.provided(provided)
    return plan.unseen(unseen) if unseen else plan


def _remember(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    """Keep ``value`` under ``key``; the oldest entries go beyond the cache's size."""
    cache[key] = value
    while len(cache) > DYNAMIC_CACHE_SIZE:
        cache.popitem(last=False)


# --------------------------------------------------- serializers with a selection


def _selected_plan(
    serializer_class: type,
    selector: Any,
    context: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any] | None,
) -> Plan:
    """The plan of the fields ``serializer_class.autoprefetch_selection()`` names:
    planned from a field tree built once per ``build``, once per selection."""
    requested = _selection(serializer_class, selector, context, kwargs)
    tree, shared = _tree(serializer_class, requested, context)
    selection = requested.within(tree.fields)  # names it does not have: one entry
    key = (serializer_class, selection)
    plan = _dynamic.get(key)
    if plan is not None:
        return plan
    global build_count
    with _lock:
        plan = _dynamic.get(key)
        if plan is not None:
            return plan
        plan, _ = _build_checked(tree, selection)
        build_count += 1
        if shared:  # a tree built from this request's context serves this request only
            _remember(_dynamic, key, plan)
    return plan


def _selection(
    serializer_class: type,
    selector: Any,
    context: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any] | None,
) -> Selection:
    name = f"{serializer_class.__name__}.{SELECTION_METHOD}()"
    try:
        found = selector(dict(kwargs or {}), dict(context or {}))
    except Unfrozen as exc:
        raise PlanError(
            f"{name} gave a build value of type {exc}; give strings, numbers, or lists "
            "and dicts of them."
        ) from exc
    if found is None:
        return Selection()
    if isinstance(found, Selection):
        return found
    raise PlanError(
        f"{name} returned {found!r}; return a drf_autoprefetch.selection.Selection, or "
        "None when every field is rendered."
    )


def _tree(
    serializer_class: type, selection: Selection, context: Mapping[str, Any] | None
) -> tuple[Any, bool]:
    """The serializer instance whose fields ``selection`` chooses from, built once per
    ``selection.build``, with an empty context (so that it holds every field, whatever
    one request asks for), or this request's context if it cannot be built without."""
    _check_plannable(serializer_class)
    key = (serializer_class, selection.build)
    tree = _trees.get(key)
    if tree is not None:
        return tree, True
    factory: Any = serializer_class
    try:
        with warnings.catch_warnings():  # e.g. "Context does not have access to request"
            warnings.simplefilter("ignore")
            tree = factory(context={}, **selection.build_kwargs)
            tree.fields  # noqa: B018 - built now, where a missing request shows
    except Exception:  # its fields need the request: a tree for this request only
        return factory(context=dict(context or {}), **selection.build_kwargs), False
    _remember(_trees, key, tree)
    return tree, True


# ---------------------------------------------------- serializers built per request


def _plan_uncached(
    serializer_class: type, context: Mapping[str, Any] | None, kwargs: dict[str, Any]
) -> Plan:
    """The plan of a serializer not known to be static: cached by what its fields vary
    with (its keyword arguments and the context keys its code read), so a serializer is
    built only the first time a combination is seen."""
    _check_plannable(serializer_class)
    key = _variant_key(serializer_class, context, kwargs)
    if key is not None:
        plan = _dynamic.get(key)
        if plan is not None:
            return plan
    global build_count
    with _lock:
        key = key or _variant_key(serializer_class, context, kwargs)  # learnt meanwhile
        cached = _static.get(serializer_class) or (_dynamic.get(key) if key else None)
        if cached is not None:
            return cached
        reads = ContextReads(context)
        serializer = _built(serializer_class, reads, kwargs)
        as_rendered(serializer)
        if key is None and serializer_class in _variance:  # varies with what no key holds
            cached = _dynamic.get(("fields", _signature(serializer)))
            if cached is not None:
                return cached
        plan, dynamic = _build_checked(serializer)
        build_count += 1
        if not dynamic:
            _static[serializer_class] = plan
        else:
            key = _learn_variance(serializer_class, reads, kwargs, serializer)
            _remember(_dynamic, key, plan)
    return plan


def _built(serializer_class: type, context: ContextReads, kwargs: dict[str, Any]) -> Any:
    """An instance to plan, built as the caller builds it; without ``kwargs`` when the
    class does not take them (they are then not about its fields)."""
    factory: Any = serializer_class
    if kwargs:
        try:
            return factory(context=context, **kwargs)
        except TypeError:
            logger.debug("%s does not take %s", serializer_class.__name__, sorted(kwargs))
    return factory(context=context)


def _variant_key(
    serializer_class: type, context: Mapping[str, Any] | None, kwargs: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The cache key of a known varying serializer built with ``kwargs`` and ``context``,
    or ``None`` when no key can stand for them (the serializer must be built)."""
    if serializer_class not in _variance:
        return None
    keys = _variance[serializer_class]
    if keys is None:
        return None
    given = context or {}
    try:
        return (
            "kwargs",
            serializer_class,
            freeze(kwargs),
            tuple((name, _frozen_entry(given, name)) for name in sorted(keys)),
        )
    except Unfrozen:
        return None


def _frozen_entry(context: Mapping[str, Any], name: str) -> Any:
    value = context.get(name, _ABSENT)
    return value if value is _ABSENT else freeze(value)


def _learn_variance(
    serializer_class: type, reads: ContextReads, kwargs: dict[str, Any], serializer: Any
) -> tuple[Any, ...]:
    """Record what ``serializer_class``'s fields were seen to vary with; its cache key."""
    known = _variance.get(serializer_class, frozenset())
    keys = None if reads.whole or known is None else frozenset(reads.read) | known
    if keys is not None and not builds_from_arguments(
        serializer_class, _DYNAMIC_MEMBERS, ("rest_framework",)
    ):
        keys = None  # its code reads more than its arguments: built for each request
    _variance[serializer_class] = keys
    return _variant_key(serializer_class, reads, kwargs) or ("fields", _signature(serializer))


class _Absent:
    """A context key the context does not hold (not the same as ``None``)."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _check_plannable(serializer_class: type) -> None:
    if not (isinstance(serializer_class, type) and issubclass(serializer_class, Field)):
        raise TypeError(f"plan_for() takes a serializer class, not {serializer_class!r}.")
    if issubclass(serializer_class, serializers.ListSerializer):
        raise PlanError(
            f"{serializer_class.__name__} is a list serializer; plan the serializer of one "
            "row instead (plan_for(BookSerializer) serves BookSerializer(many=True))."
        )


def _build_checked(serializer: Any, selection: Selection | None = None) -> tuple[Plan, bool]:
    """:func:`build_plan`, DRF's own refusal to build the fields a ``PlanError``."""
    try:
        return build_plan(serializer, selection)
    except AssertionError as exc:  # DRF's checks of a serializer's declaration
        detail: Any = exc.args[0] if exc.args else exc
        while isinstance(detail, tuple) and len(detail) == 1:
            detail = detail[0]  # DRF words some of its assertions as a tuple
        raise PlanError(
            f"{type(serializer).__name__} cannot be planned: DRF refuses to build its "
            f"fields: {detail}"
        ) from exc


#: Warnings already logged by this process: each is logged once, when a plan is first used.
_logged: set[str] = set()
#: Set while plans are validated at start-up: nothing is logged then (the checks say it).
_quiet: ContextVar[bool] = ContextVar("drf_autoprefetch_quiet", default=False)


@contextmanager
def quietly() -> Iterator[None]:
    """Plans asked for inside log no warning (start-up validation)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def plan_failed(where: str, serializer_class: type, exc: Exception) -> None:
    """Log (once per place, serializer and kind of error) that planning failed while a
    request was served, ``where``: its queryset is left as it is, as without the library.

    Building a serializer to plan it runs the project's code with what planning has (the
    context, the keyword arguments a view passes), which may not be what that code needs
    (an ``__init__`` wanting its instance, a keyword argument only a call site passes).
    """
    text = (
        f"{where} could not plan {serializer_class.__name__} ({type(exc).__name__}: {exc}); "
        "its queryset is left unoptimized."
    )
    if text not in _logged:
        _logged.add(text)
        logger.warning("drf_autoprefetch: %s", text, exc_info=exc)


def mismatched(exc: ModelMismatch) -> None:
    """Log (once per message) that a queryset holds rows of another model than its
    serializer's (``exc`` says whose): it is left unoptimized, as DRF renders such rows
    whenever they have the fields read. ``ON_UNPLANNABLE = "raise"`` raises it instead."""
    if conf.settings.ON_UNPLANNABLE == "raise":
        raise exc
    text = f"{exc} Until then, its queryset is left unoptimized."
    if text not in _logged:
        _logged.add(text)
        logger.warning("drf_autoprefetch: %s", text)


def _reported(plan: Plan) -> Plan:
    """``plan``, its warnings logged (each once) where ``ON_UNPLANNABLE`` says so."""
    if not plan.warnings or _quiet.get() or conf.settings.ON_UNPLANNABLE != "warn":
        return plan
    for warning in plan.warnings:
        if warning not in _logged:
            _logged.add(warning)
            logger.warning("drf_autoprefetch: %s", warning)
    return plan


def _enforce(plan: Plan) -> Plan:
    if plan.warnings and conf.settings.ON_UNPLANNABLE == "raise":
        raise PlanError(
            "The planner cannot see through these fields (ON_UNPLANNABLE='raise'):\n"
            + "\n".join(f"- {warning}" for warning in plan.warnings)
        )
    return plan


def _forget_on_change(*, setting: str, **kwargs: Any) -> None:
    """Plans depend on ``DRF_AUTOPREFETCH["INFER"]``: a changed setting forgets them."""
    if setting == conf.SETTING_NAME:
        clear_cache()


setting_changed.connect(_forget_on_change, dispatch_uid="drf_autoprefetch.planner")


def clear_cache() -> None:
    """Forget every cached plan (tests, or after changing serializers at run time)."""
    global build_count
    with _lock:
        _static.clear()
        _dynamic.clear()
        _trees.clear()
        _variance.clear()
        _logged.clear()
        build_count = 0
        model_attrs.cache_clear()
