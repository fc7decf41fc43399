"""The walk of a serializer's field tree: from fields to drafts, then to a plan.

It reads DRF's field tree and Django's model metadata, and never builds a QuerySet nor
runs a query. :mod:`drf_autoprefetch.planner` decides which plan a request gets (cached,
per selection, per context) and asks :func:`build_plan` for the ones it has not built.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

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
from drf_autoprefetch.columns import Pruning, relation_field
from drf_autoprefetch.contextual import is_condition, without_conditions
from drf_autoprefetch.drafts import (
    Draft,
    Freezing,
    Walk,
    Warnings,
    find,
    fold_back_references,
    freeze_all,
    guarded,
    leave_alone,
    splittable,
)
from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.hinted import apply_hints
from drf_autoprefetch.hinting import Hints, get_hints
from drf_autoprefetch.inference import infer
from drf_autoprefetch.inference.reading import renders_alone
from drf_autoprefetch.inference.resolving import NestedIn
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
from drf_autoprefetch.provided import query_names
from drf_autoprefetch.selection import (
    DYNAMIC_MEMBERS,
    Selection,
)
from drf_autoprefetch.suggest import hints_line
from drf_autoprefetch.tree import Conditions, conditions_of
from drf_autoprefetch.widths import wide_joins

__all__ = ["MAX_SELF_NESTING", "build_plan", "pruning_of", "serializer_model", "split_paths"]

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
        #: Inside a serializer that code builds with a context of its own: its tests of
        #: the context are no conditions (:mod:`drf_autoprefetch.contextual`).
        self.own_context = False

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
            unless = self._conditions(draft, found.unless.get(path))
            self._load_inferred(draft, path, f"inferred from {origin}", unless)
        for nested in found.nested:
            self._nested_inferred(draft, nested, walk)
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

    def _conditions(self, draft: Draft, unless: Conditions) -> Conditions:
        """``unless``, read from ``draft``'s rows, from the root; without tests of the
        context inside a serializer code builds with a context of its own."""
        unless = _below(draft.path, unless)
        return without_conditions(unless) if self.own_context else unless

    def _nested_inferred(self, draft: Draft, nested: NestedIn, walk: Walk) -> None:
        """A serializer the code builds over related rows, planned below them; behind
        guards, everything it reads is spared with them."""
        target: Draft | None = draft
        for name in nested.path.split("__") if nested.path else ():
            target = target.children.get(name) if target is not None else None
        if target is None:
            return  # rows not loaded for it (read through a member): nothing to plan below
        spares = self._conditions(draft, (nested.unless,) if nested.unless else None)
        where = walk.enter(nested.path.replace("__", ".")) if nested.path else walk
        lenient, self.lenient = self.lenient, True
        own_context = self.own_context
        self.own_context = own_context or not nested.same_context
        try:
            with guarded(spares[0] if spares else frozenset()):
                self.serializer(nested.serializer(context={}), target, where)
        except Exception as exc:  # a serializer rendering what the code set on the rows
            self.warn(
                walk,
                f"{nested.serializer.__name__}, built in code, is not planned: "
                f"{type(exc).__name__}: {exc}",
            )
        finally:
            self.lenient, self.own_context = lenient, own_context

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
        if draft.queryset is not None and name in set(query_names(draft.queryset)):
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


# -------------------------------------------------------- plan of one serializer


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
    """Conditions read from the rows at ``path`` (see :class:`Draft`), from the root;
    those of the context (:mod:`drf_autoprefetch.contextual`) are the same anywhere."""
    if not unless or not path:
        return unless
    return tuple(
        frozenset(name if is_condition(name) else f"{path}__{name}" for name in each)
        for each in unless
    )


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
