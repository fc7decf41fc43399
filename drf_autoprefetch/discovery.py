"""Finding the serializers to plan: generic views in the URLconf, and ``@auto_prefetch``.

Used by the system checks and by ``manage.py prefetch_plans``. Nothing here runs a
request: a view's serializer class is read from an instance built without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeGuard

from django.conf import settings
from django.db import DatabaseError
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string
from rest_framework.generics import GenericAPIView
from rest_framework.serializers import BaseSerializer
from rest_framework.viewsets import ViewSetMixin

from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.mixins import (
    AutoPrefetchMixin,
    applies_plan,
    drf_own,
    plain_filtering,
)
from drf_autoprefetch.plan import Plan
from drf_autoprefetch.planner import check_unresolved
from drf_autoprefetch.provided import provided_names as queryset_names
from drf_autoprefetch.walk import build_plan, serializer_model

__all__ = [
    "MisplacedMixin",
    "SerializerClass",
    "Target",
    "describe_failure",
    "discover",
    "dotted_path",
    "is_serializer_class",
    "is_view_class",
    "misplaced_mixin",
    "plan_unenforced",
    "provided_names",
    "queryset_known",
    "serializer_for",
    "serializer_target",
    "unique",
    "unique_serializers",
    "view_targets",
]

#: The actions a router maps for a ``ModelViewSet``, in the router's order.
STANDARD_ACTIONS = ("list", "create", "retrieve", "update", "partial_update", "destroy")
#: Actions that render no row: ``AutoPrefetchMixin`` applies no plan to them.
UNRENDERED_ACTIONS = frozenset({"destroy"})

SerializerClass: TypeAlias = "type[BaseSerializer[Any]]"


def dotted_path(obj: type) -> str:
    """``module.QualName`` of a class, as ``import_string`` takes it."""
    return f"{obj.__module__}.{obj.__qualname__}"


def is_serializer_class(obj: object) -> TypeGuard[SerializerClass]:
    return isinstance(obj, type) and issubclass(obj, BaseSerializer)


def is_view_class(obj: object) -> TypeGuard[type[GenericAPIView[Any]]]:
    return isinstance(obj, type) and issubclass(obj, GenericAPIView)


def has_model(serializer_class: type) -> bool:
    """Whether ``serializer_class`` names a model to plan for (``Meta.model``)."""
    return serializer_model(serializer_class) is not None


@dataclass(frozen=True)
class Target:
    """One serializer to plan, and where it is used.

    ``target`` is the dotted path of the view (or of the serializer itself, for an
    ``@auto_prefetch`` serializer); ``action`` is the viewset action, or ``None``;
    ``view`` is the view class, or ``None`` for a serializer.
    """

    target: str
    action: str | None
    serializer: SerializerClass
    view: type[GenericAPIView[Any]] | None = field(default=None, compare=False, repr=False)
    #: The view's ``serializer_class``, taken because ``get_serializer_class()`` needs a
    #: request: requests may get another serializer.
    assumed: bool = field(default=False, compare=False)

    @property
    def serializer_path(self) -> str:
        return dotted_path(self.serializer)

    @property
    def misplaced(self) -> MisplacedMixin | None:
        """Why the view never applies the plan, or ``None``: see :func:`misplaced_mixin`."""
        return None if self.view is None else misplaced_mixin(self.view)

    def plan(self) -> Plan:
        """The serializer's plan, warnings included whatever ``ON_UNPLANNABLE`` says.

        Raises ``PlanError`` for a bad ``source`` or hint, and whatever the serializer
        raises when it is built without a request.
        """
        known = queryset_known(self)
        return plan_unenforced(self.serializer, provided_names(self), known=known)


def plan_unenforced(
    serializer_class: SerializerClass, provided: Iterable[str] = (), *, known: bool = True
) -> Plan:
    """Plan ``serializer_class`` with an empty context, without caching or logging.

    A field naming nothing on the model raises ``PlanError`` unless its name is in
    ``provided`` (what the view's queryset carries); a name in ``provided`` is no warning.
    Where the queryset is not ``known`` (a view building its own), such a field is a
    warning instead, as that queryset may provide it.
    """
    factory: Any = serializer_class
    plan, _ = build_plan(factory(context={}))
    return check_unresolved(plan, set(provided), known=known)


def provided_names(target: Target) -> frozenset[str]:
    """What the class-level ``queryset`` of the view behind ``target`` carries beyond its
    model (annotations, ``to_attr`` prefetches, its ``Prefetch`` querysets' annotations)."""
    view = _view_class(target)
    queryset = getattr(view, "queryset", None) if view is not None else None
    return frozenset() if queryset is None else queryset_names(queryset)


def queryset_known(target: Target) -> bool:
    """Whether the rows ``target`` renders are known before a request: those of an
    ``@auto_prefetch`` serializer are whatever it is given (checked as they come); a
    view's come from its class-level ``queryset`` only where DRF's own ``get_queryset()``,
    ``filter_queryset()`` and filter backends, which add nothing to rows, handle it."""
    if target.view is None:
        return True
    view = _view_class(target)
    if view is None or getattr(view, "queryset", None) is None:
        return False
    return not builds_own_queryset(view) and plain_filtering(view)


def builds_own_queryset(view: type) -> bool:
    """Whether a ``get_queryset()`` of the project's (neither DRF's nor the mixin's)
    builds the queryset of ``view``: its class-level ``queryset`` need not hold the rows.
    The mixin put in front of a view class with its own (``class V(AutoPrefetchMixin,
    TheirViewSet)``) hands over to it."""
    owner = next(
        (
            klass
            for klass in view.__mro__
            if "get_queryset" in vars(klass) and klass is not AutoPrefetchMixin
        ),
        None,
    )
    return owner is not None and not drf_own(owner)


def _view_class(target: Target) -> type[GenericAPIView[Any]] | None:
    try:
        view = import_string(target.target)
    except ImportError:
        return None
    return view if is_view_class(view) else None


# ----------------------------------------------------------------------- views


@dataclass(frozen=True)
class MisplacedMixin:
    """A view whose ``get_queryset()`` never reaches ``AutoPrefetchMixin``.

    ``owner`` lists the DRF view class ``base`` before ``AutoPrefetchMixin`` in its bases
    (``owner`` is ``view`` or a class it inherits from); ``shadow`` is the class whose
    ``get_queryset()`` comes first in the view's MRO.
    """

    view: type[GenericAPIView[Any]]
    owner: type
    base: type
    shadow: type

    @property
    def message(self) -> str:
        where = f"{self.view.__name__} lists"
        if self.owner is not self.view:
            where = f"{self.view.__name__} inherits from {self.owner.__name__}, which lists"
        return (
            f"{where} AutoPrefetchMixin after the DRF view class {self.base.__name__}: "
            f"{self.shadow.__name__}.get_queryset() comes first in the MRO, so no plan is "
            "applied and nothing is optimized."
        )

    @property
    def hint(self) -> str:
        owner, base = self.owner.__name__, self.base.__name__
        bases = list(self.owner.__bases__)
        mixins = [each for each in bases if issubclass(each, AutoPrefetchMixin)]
        if not mixins or self.base not in bases:
            return f"List AutoPrefetchMixin before {base} in the bases of {owner}."
        bases.remove(mixins[0])
        bases.insert(bases.index(self.base), mixins[0])
        names = ", ".join(each.__name__ for each in bases)
        return f"List AutoPrefetchMixin before {base}: class {owner}({names})."


def misplaced_mixin(view: type[GenericAPIView[Any]]) -> MisplacedMixin | None:
    """How ``view`` lists ``AutoPrefetchMixin`` after a DRF view class, so that
    ``GenericAPIView.get_queryset()`` (or another view class's) shadows the mixin's.

    ``None`` when the plan is applied: the mixin comes before ``GenericAPIView`` in the
    MRO, or the view's own ``get_queryset()`` is wrapped to apply it.
    """
    mro = view.__mro__
    if AutoPrefetchMixin not in mro or mro.index(AutoPrefetchMixin) < mro.index(GenericAPIView):
        return None
    if applies_plan(view.get_queryset):
        return None
    shadow = next(cls for cls in mro if "get_queryset" in vars(cls))
    owner, base = _view_base_first(view)
    return MisplacedMixin(view, owner, base, shadow)


def _view_base_first(view: type) -> tuple[type, type]:
    """The first class of ``view``'s MRO listing a DRF view class before a base that
    carries ``AutoPrefetchMixin``, and that view class.
    """
    for cls in view.__mro__:
        mixins = [i for i, base in enumerate(cls.__bases__) if issubclass(base, AutoPrefetchMixin)]
        views = [
            i
            for i, base in enumerate(cls.__bases__)
            if is_view_class(base) and not issubclass(base, AutoPrefetchMixin)
        ]
        if mixins and views and views[0] < mixins[0]:
            return cls, cls.__bases__[views[0]]
    return view, GenericAPIView


@dataclass(frozen=True)
class _Route:
    """A view class as one URL pattern serves it."""

    view: type[GenericAPIView[Any]]
    actions: tuple[str | None, ...]
    initkwargs: tuple[tuple[str, Any], ...]


def _patterns(patterns: Iterable[URLPattern | URLResolver]) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns)
        else:
            yield pattern


def _route(pattern: URLPattern) -> _Route | None:
    callback = pattern.callback
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if not is_view_class(view):
        return None
    actions: Mapping[str, str] | None = getattr(callback, "actions", None)
    initkwargs = getattr(callback, "initkwargs", None) or {}
    names = tuple(dict.fromkeys(actions.values())) if actions else (None,)
    return _Route(view, names, tuple(initkwargs.items()))


def _url_routes(urlconf: str | None = None) -> list[_Route]:
    if urlconf is None and not hasattr(settings, "ROOT_URLCONF"):
        return []
    routes = (_route(pattern) for pattern in _patterns(get_resolver(urlconf).url_patterns))
    return [route for route in routes if route is not None]


def _unrouted(view: type[GenericAPIView[Any]]) -> list[_Route]:
    """The routes a view class would get, for one that the URLconf does not serve."""
    if not issubclass(view, ViewSetMixin):
        return [_Route(view, (None,), ())]
    routes = [_Route(view, tuple(a for a in STANDARD_ACTIONS if hasattr(view, a)), ())]
    for extra in view.get_extra_actions():
        initkwargs: dict[str, Any] = getattr(extra, "kwargs", {})
        routes.append(_Route(view, (extra.__name__,), tuple(initkwargs.items())))
    return routes


def serializer_for(
    view: type[GenericAPIView[Any]], action: str | None, initkwargs: Mapping[str, Any]
) -> SerializerClass | None:
    """The serializer class ``view`` uses for ``action``, found without a request.

    ``get_serializer_class()`` is called on an instance built with ``request=None``;
    if it needs a request, the class's (or the route's) ``serializer_class`` is used.
    """
    found, _ = _serializer_of(view, action, initkwargs)
    return found


def _serializer_of(
    view: type[GenericAPIView[Any]], action: str | None, initkwargs: Mapping[str, Any]
) -> tuple[SerializerClass | None, bool]:
    """:func:`serializer_for`, and whether it is the ``serializer_class`` attribute taken
    because ``get_serializer_class()`` needs a request."""
    attributes: dict[str, Any] = {"request": None, "format_kwarg": None, "args": (), "kwargs": {}}
    assumed = False
    try:
        instance = view(**{**initkwargs, **attributes, "action": action})
        found: object = instance.get_serializer_class()
    except Exception:
        found = initkwargs.get("serializer_class", view.serializer_class)
        assumed = True
    return (found, assumed) if is_serializer_class(found) else (None, False)


def _targets(routes: Iterable[_Route]) -> Iterator[Target]:
    """The actions of ``routes`` that render rows of a model, with their serializer."""
    for route in routes:
        initkwargs = dict(route.initkwargs)
        for action in route.actions:
            if action in UNRENDERED_ACTIONS:
                continue
            serializer, assumed = _serializer_of(route.view, action, initkwargs)
            if serializer is not None and has_model(serializer):
                yield Target(dotted_path(route.view), action, serializer, route.view, assumed)


def unique(targets: Iterable[Target]) -> list[Target]:
    return list(dict.fromkeys(targets))


def view_targets(view: type[GenericAPIView[Any]], urlconf: str | None = None) -> list[Target]:
    """Every action of ``view`` with its serializer, as routed, else as the class defines;
    ``destroy`` left out (it renders no row).
    """
    routes = [route for route in _url_routes(urlconf) if route.view is view]
    return unique(_targets(routes or _unrouted(view)))


def serializer_target(serializer: SerializerClass) -> Target:
    return Target(dotted_path(serializer), None, serializer)


def discover(urlconf: str | None = None) -> list[Target]:
    """Every generic view action reachable from the URLconf (``destroy`` left out), then
    every ``@auto_prefetch`` serializer; in URLconf order, then declaration order, without
    repeats.

    The URLconf is imported first, so that serializers only its views import are registered.
    """
    from drf_autoprefetch.decorators import registered_serializers

    views = list(_targets(_url_routes(urlconf)))
    return unique([*views, *map(serializer_target, registered_serializers())])


def unique_serializers(targets: Iterable[Target]) -> list[SerializerClass]:
    """The distinct serializer classes of ``targets``, in order."""
    return list(dict.fromkeys(target.serializer for target in targets))


def describe_failure(exc: Exception) -> str:
    """How a failed plan is reported: a ``PlanError`` as it is, anything else as the
    error a serializer raised when built without a request.
    """
    if isinstance(exc, PlanError):
        return str(exc)
    if isinstance(exc, DatabaseError):
        return (
            "could not be planned: building it queried the database, which failed "
            f"({type(exc).__name__}: {exc}); run the checks once the database is migrated"
        )
    return f"could not be planned without a request: {type(exc).__name__}: {exc}"
