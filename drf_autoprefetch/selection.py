"""Which fields a request renders: the selection protocol and the keys plans are cached by.

A serializer may say which of its fields a request renders with a classmethod::

    class BookSerializer(serializers.ModelSerializer):
        @classmethod
        def autoprefetch_selection(cls, kwargs, context):
            return Selection(fields=kwargs.get("fields"))

The planner calls it with the keyword arguments the serializer is built with and its
context, and plans only the fields the :class:`Selection` admits, from a field tree built
once per distinct ``build``. Nothing here imports the planner.
"""

from __future__ import annotations

import functools
import importlib
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

__all__ = [
    "SELECTION_METHOD",
    "ContextReads",
    "Selection",
    "Unfrozen",
    "as_rendered",
    "build_kwargs",
    "freeze",
    "selector_of",
    "top_level",
]

#: The classmethod a serializer defines to say which fields a request renders.
SELECTION_METHOD = "autoprefetch_selection"

#: Serializer base classes of other packages -> the module of their built-in selection.
KNOWN_SELECTIONS = {
    "rest_flex_fields.serializers.FlexFieldsSerializerMixin": (
        "drf_autoprefetch.contrib.flex_fields"
    ),
    "drf_dynamic_fields.DynamicFieldsMixin": "drf_autoprefetch.contrib.dynamic_fields",
}

#: Serializer base classes of other packages that change an instance's fields when it
#: renders -> the module whose ``as_rendered`` does that to an instance built to plan.
KNOWN_RENDERINGS = {
    "rest_flex_fields.serializers.FlexFieldsSerializerMixin": (
        "drf_autoprefetch.contrib.flex_fields"
    ),
}

_selectors: weakref.WeakKeyDictionary[type, Callable[..., Any] | None] = weakref.WeakKeyDictionary()


#: Methods whose override makes a serializer's fields depend on how it is built.
DYNAMIC_MEMBERS = ("__init__", "fields", "get_fields", "get_field_names")


def selector_of(serializer_class: type) -> Callable[..., Any] | None:
    """The selection method of ``serializer_class``: its own ``autoprefetch_selection``,
    else the built-in one of a package it is built on (drf-flex-fields,
    drf-dynamic-fields) if no code of its own also builds its fields, else ``None``."""
    own = getattr(serializer_class, SELECTION_METHOD, None)
    if own is not None:
        return cast("Callable[..., Any]", own)
    try:
        known = _selectors[serializer_class]
    except KeyError:
        known = _selectors[serializer_class] = _known_selection(serializer_class)
    return None if known is None else functools.partial(known, serializer_class)


def _known_selection(serializer_class: type) -> Callable[..., Any] | None:
    """The built-in selection of the package ``serializer_class`` is built on, unless a
    class of its own (not DRF's, not the package's) builds fields too: the package's
    options would then not say which fields it renders."""
    found = None
    for klass in serializer_class.__mro__:
        module = KNOWN_SELECTIONS.get(f"{klass.__module__}.{klass.__qualname__}")
        if module is not None:
            found = importlib.import_module(module).selection
            package = klass.__module__.split(".", 1)[0]
            break
    if found is None:
        return None
    for klass in serializer_class.__mro__:
        root = klass.__module__.split(".", 1)[0]
        if klass is object or root in ("rest_framework", package):
            continue
        if any(name in vars(klass) for name in DYNAMIC_MEMBERS):
            return None
    return cast("Callable[..., Any]", found)


def as_rendered(serializer: Any) -> None:
    """Give a serializer instance built to be planned the fields it renders with, where
    the package it is built on changes them only when it renders (drf-flex-fields applies
    the query parameters' ``?expand=``, ``?fields=`` and ``?omit=`` there)."""
    for klass in type(serializer).__mro__:
        module = KNOWN_RENDERINGS.get(f"{klass.__module__}.{klass.__qualname__}")
        if module is not None:
            importlib.import_module(module).as_rendered(serializer)
            return


def top_level(paths: Iterable[str]) -> list[str]:
    """The root field names of dotted paths (``"author.name"`` -> ``"author"``)."""
    return list(dict.fromkeys(path.split(".", 1)[0] for path in paths))


#: Keyword arguments that say how a serializer is used, not which fields it has.
_USE_KWARGS = frozenset({"many", "instance", "data", "context", "partial"})


class Unfrozen(Exception):
    """A value with no stable, hashable form (a request, a model instance)."""


def freeze(value: Any) -> Any:
    """A hashable value equal for equal inputs: strings, numbers and containers of them.

    Raises :class:`Unfrozen` for anything else, whose equality says nothing about
    which fields a serializer builds (a request, a user, a model instance).
    """
    if value is None or isinstance(value, (str, bytes, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(item) for item in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(key), freeze(item)) for key, item in value.items()))
    raise Unfrozen(type(value).__name__)


def build_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments that may change which fields a serializer builds: all but
    ``many``, ``instance``, ``data``, ``context`` and ``partial``."""
    return {name: value for name, value in (kwargs or {}).items() if name not in _USE_KWARGS}


def _paths(value: Iterable[str] | str | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for part in value.split(",") if part]
    return frozenset(str(path).strip() for path in value)


@dataclass(frozen=True, init=False)
class Selection:
    """The fields one request renders, as dotted paths from the root serializer.

    ``fields`` lists the rendered fields (``None``: every field); a path names the field
    and everything below it, and ``"author.name"`` keeps ``author`` with only ``name``
    below it. ``omit`` lists fields left out, below whatever ``fields`` admits.
    ``build`` holds the keyword arguments that change which fields exist (an
    ``expand=`` list that adds nested serializers): the field tree is built once per
    distinct ``build``, with those arguments, and planned once per distinct selection.
    """

    fields: frozenset[str] | None
    omit: frozenset[str]
    build: tuple[tuple[str, Any], ...]
    _around: frozenset[str] = field(repr=False, compare=False)

    def __init__(
        self,
        fields: Iterable[str] | str | None = None,
        omit: Iterable[str] | str = (),
        build: Mapping[str, Any] | None = None,
    ) -> None:
        chosen = _paths(fields)
        object.__setattr__(self, "fields", chosen)
        object.__setattr__(self, "omit", _paths(omit) or frozenset())
        object.__setattr__(self, "build", freeze(dict(build or {})))
        # Every field a chosen path goes through, so "author.name" admits "author".
        around = {prefix for path in chosen or () for prefix in _prefixes(path)}
        object.__setattr__(self, "_around", frozenset(around))

    @property
    def build_kwargs(self) -> dict[str, Any]:
        return dict(self.build)

    @property
    def everything(self) -> bool:
        """Whether it admits every field (nothing chosen, nothing omitted)."""
        return self.fields is None and not self.omit

    def within(self, names: Iterable[str]) -> Selection:
        """This selection with the paths whose root field is not in ``names`` dropped, so
        that selections naming nothing more share a cache entry."""
        known = set(names)

        def kept(paths: Iterable[str]) -> list[str]:
            return [path for path in paths if path.split(".", 1)[0] in known]

        fields = None if self.fields is None else kept(self.fields)
        return Selection(fields=fields, omit=kept(self.omit), build=dict(self.build))

    def admits(self, path: str) -> bool:
        """Whether the field at dotted ``path`` is rendered."""
        if any(prefix in self.omit for prefix in _prefixes(path, itself=True)):
            return False
        if self.fields is None or path in self._around:
            return True
        return any(prefix in self.fields for prefix in _prefixes(path, itself=True))


def _prefixes(path: str, *, itself: bool = False) -> Iterator[str]:
    """``"a.b.c"`` -> ``"a"``, ``"a.b"`` (and ``"a.b.c"`` with ``itself``)."""
    parts = path.split(".")
    stop = len(parts) + 1 if itself else len(parts)
    for end in range(1, stop):
        yield ".".join(parts[:end])


class ContextReads(dict[str, Any]):
    """A serializer context that remembers which of its keys were read.

    A serializer building its fields from ``self.context`` gets its plan cached by the
    values of the keys it read; :attr:`whole` is set when it read the context as a whole
    (its keys, values or items), which no key can stand for.
    """

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        super().__init__(context or {})
        self.read: set[str] = set()
        self.whole = False

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self.read.add(key)
        return super().pop(key, *default)

    def __iter__(self) -> Iterator[str]:
        self.whole = True
        return super().__iter__()

    def keys(self) -> Any:
        self.whole = True
        return super().keys()

    def values(self) -> Any:
        self.whole = True
        return super().values()

    def items(self) -> Any:
        self.whole = True
        return super().items()

    def copy(self) -> dict[str, Any]:
        self.whole = True
        return dict(super().items())
