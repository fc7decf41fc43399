"""Strict mode: no query may run while an optimized response is serialized.

A serializer put in strict mode with :func:`enable` evaluates its instance first (the
root query and the plan's prefetches are allowed), then renders it with every database
connection refusing queries. A query that still runs is a read the plan did not
foresee: it raises :class:`~drf_autoprefetch.UnplannedQueryError` naming the field being
serialized (``BookSerializer.reviews.reviewer``) and the SQL.

The field path is tracked by wrapping ``get_attribute`` and ``to_representation`` of the
bound fields of that one serializer instance tree, never of the classes; nested
serializers are wrapped when they are first rendered. Nothing is active outside
``to_representation``: validation, ``save()``, signals and pagination query freely.

On Django 6.1 and later, :func:`fetch_strictly` also gives the QuerySet a fetch mode that
refuses, during strict serialization only, to load a relation or a deferred column the
plan left out, before any SQL is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import django
from django.db import connections
from django.db.models import Model
from django.db.models.manager import BaseManager
from rest_framework.serializers import BaseSerializer, ListSerializer, Serializer

from drf_autoprefetch.exceptions import UnplannedQueryError
from drf_autoprefetch.suggest import hint_for_query
from drf_autoprefetch.walk import serializer_model

if TYPE_CHECKING:
    from django.db.models import QuerySet  # noqa: TID251 - types only
    from rest_framework.fields import Field

__all__ = [
    "Unplanned",
    "current_field",
    "disable",
    "enable",
    "fetch_strictly",
    "is_enabled",
    "recording",
]

Q = TypeVar("Q", bound="QuerySet[Any]")

#: The field path being serialized in strict mode; ``None`` when queries are allowed.
_current_path: ContextVar[str | None] = ContextVar("drf_autoprefetch_strict_path", default=None)
#: The model whose instance the field at ``_current_path`` renders, where known.
_current_model: ContextVar[type[Model] | None] = ContextVar(
    "drf_autoprefetch_strict_model", default=None
)

#: Where queries are recorded instead of refused (for the testing helper), if anywhere.
_recorder: ContextVar[list[Unplanned] | None] = ContextVar(
    "drf_autoprefetch_strict_recorder", default=None
)


@dataclass(frozen=True)
class Unplanned:
    """A query a strict rendering caught: the field path that ran it, its SQL, and the
    ``@hints(...)`` line that would plan it, where one is found."""

    path: str
    sql: str
    hint: str | None


def current_field() -> tuple[str | None, type[Model] | None]:
    """The field path a strict rendering is at (``None`` outside one), and the model of
    the instance it renders, where known."""
    return _current_path.get(), _current_model.get()


@contextmanager
def recording() -> Iterator[list[Unplanned]]:
    """Inside, strict renderings let the queries they would refuse run, and record them."""
    found: list[Unplanned] = []
    token = _recorder.set(found)
    try:
        yield found
    finally:
        _recorder.reset(token)


#: Instance attribute holding the serializer's own ``to_representation`` once enabled.
_ROOT = "_autoprefetch_strict_original"
#: Instance attribute marking a serializer whose fields already track their path.
_TRACKED = "_autoprefetch_strict_tracked"

_ADVICE = (
    "Declare what it reads with @hints(select_related=..., prefetch_related=..., "
    "annotate=...) or as a field the planner can follow, or turn strict mode off for "
    "this view with autoprefetch_strict = False."
)


def is_enabled(serializer: BaseSerializer[Any]) -> bool:
    """Whether ``serializer`` renders in strict mode."""
    return _ROOT in vars(serializer)


def enable(serializer: BaseSerializer[Any]) -> None:
    """Render ``serializer`` (its ``.data``) in strict mode. Calling it twice is harmless."""
    if is_enabled(serializer):
        return
    original = serializer.to_representation
    root = _root_name(serializer)

    def to_representation(data: Any) -> Any:
        if _current_path.get() is not None:  # already inside a strict rendering
            return original(data)
        data = _evaluate(data)
        _track_fields(serializer, root)
        with _refusing_queries(root):
            return original(data)

    vars(serializer)[_ROOT] = original
    vars(serializer)["to_representation"] = to_representation


def disable(serializer: BaseSerializer[Any]) -> None:
    """Undo :func:`enable` on ``serializer``."""
    if vars(serializer).pop(_ROOT, None) is not None:
        del vars(serializer)["to_representation"]


def fetch_strictly(queryset: Q) -> Q:
    """``queryset`` with a fetch mode refusing lazy loads in strict mode (Django >= 6.1).

    Outside strict serialization the QuerySet's own fetch mode applies unchanged. On
    older Django versions ``queryset`` is returned as it is.
    """
    if django.VERSION < (6, 1):
        return queryset
    current = getattr(queryset, "_fetch_mode", None)
    if current is None or isinstance(current, StrictFetch):
        return queryset
    strict_queryset: Q = queryset.fetch_mode(StrictFetch(current))
    return strict_queryset


# ------------------------------------------------------------------------ internals


def _root_name(serializer: BaseSerializer[Any]) -> str:
    if isinstance(serializer, ListSerializer):
        return type(serializer.child).__name__
    return type(serializer).__name__


def _evaluate(data: Any) -> Any:
    """Run the root query and its prefetches now, before queries are refused."""
    if isinstance(data, BaseManager):
        data = data.all()
    fetch_all = getattr(data, "_fetch_all", None)
    if callable(fetch_all):
        fetch_all()
    return data


def _track_fields(serializer: BaseSerializer[Any], prefix: str) -> None:
    """Make the fields of ``serializer`` (or of its child) record their path when used."""
    target = serializer.child if isinstance(serializer, ListSerializer) else serializer
    if not isinstance(target, Serializer) or _TRACKED in vars(target):
        return
    vars(target)[_TRACKED] = True
    token = _current_path.set(None)  # building fields is not serializing
    try:
        fields = list(target.fields.values())
    finally:
        _current_path.reset(token)
    for field in fields:
        _track(field, f"{prefix}.{field.field_name}")


def _track(field: Field[Any, Any, Any, Any], path: str) -> None:
    get_attribute = field.get_attribute
    to_representation = field.to_representation
    nested = field if isinstance(field, BaseSerializer) else None
    owner = serializer_model(type(field.parent)) if field.parent is not None else None

    def tracked_get_attribute(instance: Any) -> Any:
        return _at(path, owner, get_attribute, instance)

    def tracked_to_representation(value: Any) -> Any:
        if nested is not None and _current_path.get() is not None:
            _track_fields(nested, path)
        return _at(path, owner, to_representation, value)

    vars(field).update(
        get_attribute=tracked_get_attribute, to_representation=tracked_to_representation
    )


def _at(path: str, owner: type[Model] | None, function: Callable[[Any], Any], argument: Any) -> Any:
    if _current_path.get() is None:  # used outside a strict rendering
        return function(argument)
    token = _current_path.set(path)
    model_token = _current_model.set(owner)
    try:
        return function(argument)
    finally:
        _current_model.reset(model_token)
        _current_path.reset(token)


@contextmanager
def _refusing_queries(root: str) -> Iterator[None]:
    token = _current_path.set(root)
    try:
        with ExitStack() as stack:
            for connection in connections.all(initialized_only=True):
                stack.enter_context(connection.execute_wrapper(_refuse))
            yield
    finally:
        _current_path.reset(token)


def _refuse(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    path = _current_path.get()
    if path is None:
        return execute(sql, params, many, context)
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(Unplanned(path, sql, hint_for_query(_current_model.get(), sql)))
        return execute(sql, params, many, context)
    shown = f"{sql} (params {params!r})" if params else sql
    raise UnplannedQueryError(
        f"{path} ran a query the prefetch plan did not foresee: {shown}. "
        f"{_advice(_current_model.get(), sql)}"
    )


def _advice(model: type[Model] | None, sql: str) -> str:
    """What to write: the exact hint where the table is a relation of the field's model."""
    hint = hint_for_query(model, sql)
    if hint is None:
        return _ADVICE
    return (
        f"{hint} on the code behind this field would plan it; or turn strict mode off for "
        "this view with autoprefetch_strict = False."
    )


if django.VERSION >= (6, 1):
    from django.core.exceptions import FieldFetchBlocked
    from django.db.models.fetch_modes import FETCH_RAISE, FetchMode

    class StrictFetch(FetchMode):
        """Django's ``FETCH_RAISE`` during strict serialization, ``fallback`` otherwise."""

        __slots__ = ("fallback",)

        def __init__(self, fallback: FetchMode) -> None:
            self.fallback = fallback

        @property
        def track_peers(self) -> bool:  # type: ignore[override]
            return self.fallback.track_peers

        def fetch(self, fetcher: Any, instance: Any) -> None:
            path = _current_path.get()
            if path is None:
                self.fallback.fetch(fetcher, instance)
                return
            try:
                FETCH_RAISE.fetch(fetcher, instance)
            except FieldFetchBlocked as exc:
                name = f"{type(instance).__name__}.{fetcher.field.name}"
                raise UnplannedQueryError(
                    f"{path} read {name}, which the prefetch plan did not load. {_ADVICE}"
                ) from exc

        def __reduce__(self) -> tuple[type[StrictFetch], tuple[FetchMode]]:
            return (StrictFetch, (self.fallback,))

        def __repr__(self) -> str:
            return f"StrictFetch({self.fallback!r})"
