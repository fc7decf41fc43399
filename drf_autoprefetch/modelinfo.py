"""What each name on a model is, as far as loading goes: Django's metadata, read once."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import Model

from drf_autoprefetch.tree import Kind

__all__ = [
    "Attr",
    "close_names",
    "display_column",
    "manager_annotations",
    "model_attrs",
    "relation_names",
    "runs_code_on_load",
]


@dataclass(frozen=True)
class Attr:
    """What a name on a model is, as far as loading goes."""

    kind: Kind | None  # None: a column (nothing to load)
    model: type[Model] | None = None
    #: The local column holding the related key (forward FK / one-to-one only).
    attname: str | None = None
    #: Columns enough to serve a ``many=True`` primary-key list.
    id_columns: tuple[str, ...] | None = None
    #: The relation's manager takes no custom queryset (django-taggit's ``tags``).
    plain: bool = False
    #: A non-null foreign key without a database constraint: its target may be missing,
    #: so an inner join could drop rows; it is loaded by a query of its own.
    loose: bool = False


_COLUMN = Attr(kind=None)


@cache
def model_attrs(model: type[Model]) -> Mapping[str, Attr]:
    """Every field, accessor and column name of ``model``, mapped to how it loads."""
    found: dict[str, Attr] = {"pk": _COLUMN}
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


def _relation_attr(field: Any) -> tuple[Any, Attr]:
    related = field.related_model
    # Generic relations are recognised by their attributes, so that importing the
    # planner never imports django.contrib.contenttypes (which may not be installed).
    if hasattr(field, "ct_field") and hasattr(field, "fk_field"):  # GenericForeignKey
        return field.name, Attr(Kind.GENERIC)
    if hasattr(field, "object_id_field_name"):  # GenericRelation
        ct_field = related._meta.get_field(field.content_type_field_name)
        generic_columns = (related._meta.pk.attname, field.object_id_field_name, ct_field.attname)
        return field.name, Attr(Kind.PREFETCH, related, id_columns=generic_columns)
    if field.auto_created and not field.concrete:  # reverse side of a relation
        return _reverse_attr(field, related)
    if field.many_to_many:
        columns = (related._meta.pk.attname,)
        return field.name, Attr(Kind.PREFETCH, related, id_columns=columns, plain=_custom(field))
    loose = not field.null and not getattr(field, "db_constraint", True)
    return field.name, Attr(Kind.JOIN, related, attname=field.attname, loose=loose)


def _reverse_attr(field: Any, related: type[Model]) -> tuple[str, Attr]:
    name = field.get_accessor_name()
    plain = _custom(field.field)
    if field.one_to_one:
        return name, Attr(Kind.JOIN, related, plain=plain)
    columns: tuple[str, ...] = (related._meta.pk.attname,)
    if field.one_to_many:
        columns = (related._meta.pk.attname, field.field.attname)
    return name, Attr(Kind.PREFETCH, related, id_columns=columns, plain=plain)


def _custom(field: Any) -> bool:
    """Whether a relation field is not one of Django's own (its manager may refuse a
    custom prefetch queryset, as django-taggit's ``TaggableManager`` does)."""
    return not type(field).__module__.startswith("django.")


def relation_names(model: type[Model]) -> str:
    names = sorted(name for name, attr in model_attrs(model).items() if attr.kind is not None)
    return ", ".join(names) or "(none)"


def close_names(model: type[Model], name: str) -> list[str]:
    """Names of ``model`` (columns and relations) close to a misspelt ``name``."""
    return difflib.get_close_matches(name, [n for n in model_attrs(model) if n != "pk"], n=3)


_DISPLAY = re.compile(r"get_(?P<field>\w+)_display")


def display_column(model: type[Model], name: str) -> str | None:
    """The column behind Django's ``get_<field>_display`` method ``name``, if it is one."""
    match = _DISPLAY.fullmatch(name)
    if match is None:
        return None
    column = match.group("field")
    try:
        field: Any = model._meta.get_field(column)
    except Exception:
        return None
    return column if getattr(field, "choices", None) and not field.is_relation else None


def manager_annotations(model: type[Model]) -> frozenset[str]:
    """The names the default manager of ``model`` adds to its rows (``annotate()``,
    ``extra(select=...)``): a prefetch of its rows, built from that manager, has them."""
    try:
        query = model._default_manager.get_queryset().query
    except Exception:  # a manager that needs what planning cannot give
        return frozenset()
    return frozenset((*query.annotations, *query.extra))


#: Methods Django runs as it builds an instance from a row.
_LOADING_METHODS = ("__init__", "from_db", "__getattr__")


def runs_code_on_load(model: type[Model]) -> bool:
    """Whether code of the project runs as an instance of ``model`` is built from a row: an
    own ``__init__``, ``from_db()`` or ``__getattr__``, or a ``post_init`` receiver. Such
    code may read any column (a deferred one would cost a query per row) and may set
    attributes a serializer renders."""
    from django.db.models.signals import post_init

    for klass in model.__mro__:
        if klass is Model:
            break
        if any(name in vars(klass) for name in _LOADING_METHODS):
            return True
    return bool(post_init.has_listeners(model))
