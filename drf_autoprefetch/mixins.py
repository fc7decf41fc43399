"""``AutoPrefetchMixin``: optimize a generic view's queryset for its serializer."""

from __future__ import annotations

import functools
import inspect
import logging
import weakref
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from django.db.models import Model, QuerySet
from rest_framework.mixins import (
    DestroyModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    UpdateModelMixin,
)
from rest_framework.pagination import LimitOffsetPagination, PageNumberPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.serializers import BaseSerializer, Serializer

from drf_autoprefetch import observe, strict
from drf_autoprefetch.actions import action_serializer, calls_super
from drf_autoprefetch.apply import apply_plan, prefetch_onto, splits_by_cost
from drf_autoprefetch.conf import settings
from drf_autoprefetch.exceptions import ModelMismatch, PlanError
from drf_autoprefetch.plan import Plan
from drf_autoprefetch.planner import (
    has_static_plan,
    mismatched,
    needs_context,
    plan_failed,
    plan_for,
    plan_for_queryset,
    plan_for_row,
    tests_context,
)
from drf_autoprefetch.walk import serializer_model

__all__ = ["AutoPrefetchMixin", "applies_plan", "defining_class", "drf_own", "plain_filtering"]

GetQueryset = Callable[..., Any]

logger = logging.getLogger(__name__)

#: Viewset actions that render the one row ``get_object()`` reads.
_DETAIL_ACTIONS = frozenset({"retrieve", "update", "partial_update", "destroy"})
#: Generic views that render one row, unless they list too.
_DETAIL_VIEWS = (RetrieveModelMixin, UpdateModelMixin, DestroyModelMixin)

#: Holds the serializer class while the outermost ``get_queryset()`` applies its plan.
_SERIALIZER = "_autoprefetch_serializer_class"
#: Set while the serializer planned for is one an ``@action``'s own code builds.
_ACTION_BUILT = "_autoprefetch_action_built"
#: Set on a view whose queryset was left unoptimized: strict mode has nothing to check.
_LEFT_ALONE = "_autoprefetch_left_alone"

#: Marks a ``get_queryset`` that applies the plan to what it returns.
_PLANNED = "_autoprefetch_planned"
#: Marks a ``get_serializer_class`` during which ``get_queryset()`` applies no plan.
_GUARDED = "_autoprefetch_guarded"


def applies_plan(get_queryset: object) -> bool:
    """Whether ``get_queryset``, a view's resolved method, applies the view's plan: the
    mixin's own, or an override that ``AutoPrefetchMixin.__init_subclass__`` wrapped.
    """
    return bool(getattr(get_queryset, _PLANNED, False))


#: Packages whose views and filter backends only filter rows, never read them.
_PLAIN_PACKAGES = ("rest_framework.", "django_filters.")


def drf_own(code: object) -> bool:
    """Whether ``code`` (a class or a function) is DRF's or django-filter's: code that
    reads no row itself."""
    return str(getattr(code, "__module__", "")).startswith(_PLAIN_PACKAGES)


def defining_class(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO that defines ``name``, or ``None``."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def plain_filtering(view_class: type) -> bool:
    """Whether ``view_class`` filters its queryset by DRF's own ``filter_queryset()``
    and filter backends of DRF or django-filter only: none reads a row, nor adds to one."""
    backends = getattr(view_class, "filter_backends", ())
    owner = defining_class(view_class, "filter_queryset")
    return drf_own(owner) and all(drf_own(backend) for backend in backends)


def _plain_paginator(paginator: Any) -> bool:
    """A paginator of DRF's that reads no column of the rows it pages."""
    for base in (PageNumberPagination, LimitOffsetPagination):
        if isinstance(paginator, base):
            return type(paginator).paginate_queryset is base.paginate_queryset
    return False


def _keep_out_of_descriptions(cls: type) -> None:
    """Give a view with no docstring of its own the one tools looking up its bases for a
    description (drf-spectacular, up to the first of DRF's classes) would find without
    this mixin: the next documented base before DRF's, else a blank one. The mixin's
    docstring describes the library, not the view's endpoints."""
    if cls.__dict__.get("__doc__") is not None:
        return
    bases = cls.__mro__[1:]
    documented = next((base for base in bases if base.__doc__), None)
    if documented is not AutoPrefetchMixin:
        return
    for base in bases[bases.index(AutoPrefetchMixin) + 1 :]:
        if base.__module__.startswith(("rest_framework.", "django.")):
            break
        if base.__doc__:
            cls.__doc__ = base.__doc__
            return
    cls.__doc__ = " "  # truthy, so the search stops; blank once cleaned


def _outermost(
    method: GetQueryset, then: Callable[[AutoPrefetchMixin, Any], Any], marker: str
) -> GetQueryset:
    """``method`` running ``then`` on its result when it is the view's outermost call
    into ``get_queryset()`` or ``get_serializer_class()``, as it is when nested."""

    @functools.wraps(method)
    def outermost(self: AutoPrefetchMixin, *args: Any, **kwargs: Any) -> Any:
        if self._autoprefetch_busy:
            return method(self, *args, **kwargs)
        self._autoprefetch_busy = True
        try:
            return then(self, method(self, *args, **kwargs))
        finally:
            del self._autoprefetch_busy

    setattr(outermost, marker, True)
    return outermost


def _planned(get_queryset: GetQueryset) -> GetQueryset:
    """``get_queryset`` applying the view's plan, unless called from another one.

    Only the outermost ``get_queryset()`` of a view applies the plan, so it is applied
    once, to the final queryset, whether or not the overrides call ``super()``.
    """
    return _outermost(get_queryset, lambda view, queryset: view._optimized(queryset), _PLANNED)


def _unplanned_inside(get_serializer_class: GetQueryset) -> GetQueryset:
    """``get_serializer_class`` during which ``get_queryset()`` applies no plan.

    Some views read their queryset to choose a serializer (wagtail's pages API reads the
    object the URL names); planning that queryset would ask for the serializer class
    again, and plan rows that are not rendered.
    """
    return _outermost(get_serializer_class, lambda view, found: found, _GUARDED)


def _renders_rows_of(serializer_class: type[Any] | None, queryset: Any) -> bool:
    """Whether ``serializer_class``, the one an ``@action`` renders with by its own code
    (:mod:`drf_autoprefetch.actions`), renders rows of the model of ``queryset`` (a
    QuerySet, or a list of rows); ``False`` for ``None``, an action rendering with none."""
    model = None if serializer_class is None else serializer_model(serializer_class)
    if model is None:
        return False
    if isinstance(queryset, QuerySet):
        rows: Any = queryset.model
    elif queryset:
        rows = type(queryset[0])
    else:
        return True  # no row: nothing is loaded either way
    if not (isinstance(rows, type) and issubclass(rows, Model)):
        return False
    return issubclass(rows, model) or rows._meta.concrete_model is model._meta.concrete_model


class AutoPrefetchMixin:
    """Mix into a ``GenericAPIView`` or ``ModelViewSet`` to optimize its queryset.

    ``get_queryset()`` returns the view's own queryset with the plan of
    ``get_serializer_class()`` merged in, so each action with its own serializer gets
    its own plan. A subclass's own ``get_queryset()`` is optimized too, whether or not it
    calls ``super()``. Set ``autoprefetch = False`` to opt a view out; override
    ``get_prefetch_plan()`` to adjust the plan per view.

    A serializer given input ``data`` (create, update) renders the row it saved as read
    again through ``get_queryset()``, with the plan applied: see
    :meth:`reload_saved_instance`. A request that renders no row (the ``destroy`` action,
    or a ``DELETE`` answered by DRF's own ``destroy()``) gets the queryset without the plan.

    In strict mode (``DRF_AUTOPREFETCH["STRICT"]``, or ``autoprefetch_strict = True`` on
    the view) a query run while a response is serialized raises
    :class:`~drf_autoprefetch.UnplannedQueryError`. Serializers given input ``data``
    (create, update) are never strict.
    """

    #: Set to ``False`` to leave this view's queryset as it is.
    autoprefetch: bool = True
    #: ``False`` to load every column of the root rows whatever the plan prunes.
    autoprefetch_prune_columns: bool = True
    #: ``True`` or ``False`` to override ``DRF_AUTOPREFETCH["STRICT"]`` for this view.
    autoprefetch_strict: bool | None = None
    #: ``True`` while the outermost ``get_queryset()`` runs.
    _autoprefetch_busy: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _keep_out_of_descriptions(cls)
        own = cls.__dict__.get("get_queryset")
        if inspect.isfunction(own) and not getattr(own, _PLANNED, False):
            cls.get_queryset = _planned(own)  # type: ignore[method-assign]
        chooser = cls.__dict__.get("get_serializer_class")
        if inspect.isfunction(chooser) and not getattr(chooser, _GUARDED, False):
            cls.get_serializer_class = _unplanned_inside(chooser)  # type: ignore[method-assign]

    @_planned
    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()  # type: ignore[misc]
        return queryset

    @_unplanned_inside
    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        found: type[BaseSerializer[Any]] = super().get_serializer_class()  # type: ignore[misc]
        return found

    def get_prefetch_plan(self, queryset: QuerySet[Any] | None = None) -> Plan:
        """The plan for this request's serializer class, with its context.

        ``queryset`` is the view's queryset before the plan: root fields may read the
        annotations it has. Without it, every root field must name something on the model.
        """
        view: Any = self
        serializer_class = vars(self).get(_SERIALIZER) or view.get_serializer_class()
        known = self._rows_known()
        # An action's code builds its serializer with a context the view cannot tell.
        told = not vars(self).get(_ACTION_BUILT)
        if has_static_plan(serializer_class):  # the same plan whatever it is built with
            if queryset is None or not (told and tests_context(serializer_class)):
                return self._static_plan(serializer_class, queryset, known)
            context = self._serializer_context()  # code reads behind tests of it
            return plan_for_queryset(serializer_class, queryset, context=context, known=known)
        kwargs = self.get_autoprefetch_kwargs()
        context = kwargs.pop("context", None)
        if isinstance(context, _LazyContext):  # the view's: built if the override read it
            context = context.built
        if context is None and needs_context(serializer_class, kwargs):
            context = self._serializer_context()
        if queryset is None:
            return plan_for(serializer_class, context=context, kwargs=kwargs)
        return plan_for_queryset(
            serializer_class, queryset, context=context, kwargs=kwargs, known=known, told=told
        )

    @staticmethod
    def _static_plan(
        serializer_class: type[Any], queryset: QuerySet[Any] | None, known: bool = True
    ) -> Plan:
        if queryset is None:
            return plan_for(serializer_class)
        return plan_for_queryset(serializer_class, queryset, known=known)

    def _rows_known(self) -> bool:
        """Whether the rows this request renders are its queryset's as they are: DRF's
        own handler renders them (``list()``, ``retrieve()``, a generic view's ``get()``).
        A view's own code may set attributes on them before they are rendered."""
        view: Any = self
        action = getattr(view, "action", None)
        if action is None:
            method = getattr(getattr(view, "request", None), "method", None)
            action = method.lower() if isinstance(method, str) else None
        handler = getattr(type(view), action, None) if action else None
        return handler is None or drf_own(handler)

    def get_autoprefetch_kwargs(self) -> dict[str, Any]:
        """The keyword arguments ``get_serializer()`` builds this request's serializer
        with (``fields=`` a view passes, the context), which may change the fields it
        renders. Found by calling an overridden ``get_serializer()`` with a stand-in
        serializer class, which builds nothing; ``{}`` when it is not overridden.
        """
        view: Any = self
        if not _overrides_get_serializer(type(view)):
            return {}
        stand_in = _StandIn(vars(self).get(_SERIALIZER) or view.get_serializer_class())
        vars(view)["get_serializer_class"] = lambda: stand_in
        # Built only if read: DRF's get_serializer() builds the context for the stand-in.
        kept = vars(view).get("get_serializer_context")  # one kept for the serializer
        lazy = _LazyContext(view.get_serializer_context)
        vars(view)["get_serializer_context"] = lambda: lazy
        kwargs: dict[str, Any] = {}
        try:
            view.get_serializer()
        except _Captured as captured:
            kwargs = captured.kwargs
        except Exception as exc:  # an override that needs what a plan cannot give
            logger.debug("%s.get_serializer(): %r", type(self).__name__, exc)
        finally:
            del vars(view)["get_serializer_class"]
            del vars(view)["get_serializer_context"]
        if lazy.built is not None:  # the override read it
            self._reuse_context(lazy.built)
        elif kept is not None:
            vars(view)["get_serializer_context"] = kept
        return kwargs

    def _serializer_context(self) -> Any:
        """``get_serializer_context()``, which the serializer this request builds next
        gets too (see :meth:`_reuse_context`)."""
        view: Any = self
        context = view.get_serializer_context()
        self._reuse_context(context)
        return context

    def _reuse_context(self, context: Any) -> None:
        """Have the next ``get_serializer_context()`` of this request return ``context``,
        which planning has just built, instead of building it again: a project's may run
        a query (pretalx's reads the questions the user may see). Only where nothing of
        the project's but a paginator runs before the serializer is built
        (:meth:`_lists_plainly`): elsewhere (a permission check, an action's code, a
        filter backend) may change what the context holds."""
        view: Any = self
        if not self._lists_plainly():
            return

        def built_once() -> Any:
            if vars(view).get("get_serializer_context") is built_once:
                del vars(view)["get_serializer_context"]
            return context

        vars(view)["get_serializer_context"] = built_once

    def optimize_queryset(self, queryset: Any) -> Any:
        """``queryset`` with this view's plan applied (rows already read: onto them)."""
        view: Any = self
        plan = self.get_prefetch_plan(queryset)
        one_row = self._names_one_row()
        rows = self._expected_rows(one_row) if splits_by_cost(plan) else None
        if observe.active():
            serializer_class = vars(self).get(_SERIALIZER) or view.get_serializer_class()
            observe.applied(self._described(), serializer_class, plan, queryset, rows)
        try:
            return apply_plan(
                queryset,
                plan,
                onto_rows=not one_row,
                prune=not one_row and self.get_autoprefetch_prune_columns(),
                prune_prefetched=self._rendered_only(),
                rows=rows,
            )
        except PlanError as exc:  # the queryset does not fit the plan: say whose
            serializer = view.get_serializer_class().__name__
            raise type(exc)(f"{type(self).__name__} with {serializer}: {exc}") from exc

    def _optimized(self, queryset: Any) -> Any:
        """What ``get_queryset()`` returns: ``queryset`` optimized, when it can be."""
        if not self.autoprefetch or not isinstance(queryset, (QuerySet, list)):
            return queryset
        if self._renders_no_rows() or self._reads_before_update():
            return queryset
        view: Any = self
        action = getattr(view, "action", None)
        method = getattr(getattr(view, "request", None), "method", None)
        decided, own = (
            (False, None) if action is None else action_serializer(type(view), action, method)
        )
        if decided and not _renders_rows_of(own, queryset):
            return queryset  # an @action rendering no row, or other rows, by its own code
        serializer_class = own if decided else self._serializer_class()
        if serializer_class is None or serializer_model(serializer_class) is None:
            return queryset  # e.g. an action whose serializer only reads input
        vars(self)[_SERIALIZER] = serializer_class  # asked once per get_queryset()
        vars(self)[_ACTION_BUILT] = decided
        try:
            queryset = self.optimize_queryset(queryset)
        except ModelMismatch as exc:  # DRF renders rows having the fields it reads
            mismatched(exc)
            vars(self)[_LEFT_ALONE] = True
            return queryset
        except PlanError:
            raise
        except Exception as exc:  # the serializer's own code, built to be planned
            plan_failed(self._described(), serializer_class, exc)
            vars(self)[_LEFT_ALONE] = True
            return queryset
        finally:
            del vars(self)[_SERIALIZER], vars(self)[_ACTION_BUILT]
        if self.get_autoprefetch_strict():
            queryset = strict.fetch_strictly(queryset)
        return queryset

    def _serializer_class(self) -> type[Any] | None:
        """``get_serializer_class()``, or ``None`` where it cannot answer here.

        Some views choose the serializer from the object the request names and call
        ``get_object()`` for it (wagtail's pages API), which an action that never
        serializes one cannot give: the queryset is then left as it is.
        """
        view: Any = self
        try:
            found: type[Any] = view.get_serializer_class()
        except Exception as exc:
            logger.debug("%s: no serializer class to plan for: %r", type(self).__name__, exc)
            return None
        return found

    def _expected_rows(self, one_row: bool) -> int | None:
        """The most root rows this request renders, for the loading cost model: one for
        a detail action, else the paginator's page size (``None``: not known)."""
        if one_row:
            return 1
        view: Any = self
        paginator = getattr(view, "paginator", None)
        request = getattr(view, "request", None)
        if paginator is None or request is None:
            return None
        try:
            if isinstance(paginator, LimitOffsetPagination):
                size = paginator.get_limit(request)
            else:
                size = paginator.get_page_size(request)
        except Exception as exc:  # a paginator of its own that needs more than a request
            logger.debug("%s: no page size: %r", type(self).__name__, exc)
            return None
        return size if isinstance(size, int) and size > 0 else None

    def _described(self) -> str:
        """The view's dotted path, and its action where it has one."""
        cls = type(self)
        action = getattr(self, "action", None)
        path = f"{cls.__module__}.{cls.__qualname__}"
        return f"{path} {action}" if action else path

    def _names_one_row(self) -> bool:
        """Whether the request renders the one row ``get_object()`` reads (a detail
        action): rows the view already read then get no plan of their own."""
        view: Any = self
        action = getattr(view, "action", None)
        if action is not None:
            return bool(getattr(getattr(view, action, None), "detail", False)) or (
                action in _DETAIL_ACTIONS
            )
        return isinstance(view, _DETAIL_VIEWS) and not isinstance(view, ListModelMixin)

    def _renders_no_rows(self) -> bool:
        """Whether this request renders no row: the ``destroy`` and ``metadata``
        (``OPTIONS``) actions, or a ``DELETE`` answered by DRF's own
        ``DestroyModelMixin.destroy`` (an empty 204 response).
        """
        view: Any = self
        if getattr(view, "action", None) in ("destroy", "metadata"):
            return True
        method = getattr(getattr(view, "request", None), "method", None)
        destroy = getattr(type(view), "destroy", None)
        return method == "DELETE" and destroy is DestroyModelMixin.destroy

    def _reads_before_update(self) -> bool:
        """Whether this queryset serves ``get_object()`` in DRF's own ``update()``: DRF
        drops what was prefetched onto that row once it is saved, and the response gets
        the plan then (:meth:`reload_saved_instance`)."""
        view: Any = self
        method = getattr(getattr(view, "request", None), "method", None)
        if method not in ("PUT", "PATCH"):
            return False
        if not _drf_update(type(view)):
            return False
        return getattr(view, "action", None) in (None, "update", "partial_update")

    def get_autoprefetch_prune_columns(self) -> bool:
        """Whether the root query of a list may load only the columns the plan names.

        Only where nothing but the serializer reads the rows: a safe request (Django saves
        only the loaded columns of a row, so ``auto_now`` would not be), DRF's own
        ``list()`` and a page-number or limit-offset paginator of DRF's (a cursor
        paginator reads its ordering from the rows), and not with
        ``autoprefetch_prune_columns = False``. A detail action always loads its one row
        whole (permission checks read it).
        """
        if not self.autoprefetch_prune_columns:
            return False
        view: Any = self
        request = getattr(view, "request", None)
        if getattr(request, "method", "GET") not in SAFE_METHODS:
            return False
        if not self._lists_plainly():
            return False
        paginator = getattr(view, "paginator", None)
        return paginator is None or _plain_paginator(paginator)

    def _lists_plainly(self) -> bool:
        """Whether DRF's own ``list()`` serves this request, with DRF's or django-filter's
        filtering: no code of the project's reads the rows but the paginator, nor runs
        between ``get_queryset()`` and the serializer but the paginator."""
        view: Any = self
        if not isinstance(view, ListModelMixin) or type(view).list is not ListModelMixin.list:
            return False  # a view of its own (a get() calling get_object(), say)
        if getattr(view, "action", "list") not in ("list", None):
            return False  # an @action: its code may read any column of the rows
        return plain_filtering(type(view))  # a backend of the project's may read rows

    def _rendered_only(self) -> bool:
        """Whether nothing but the serializer reads the rows this request loads: a safe
        request served by DRF's own ``list()`` or ``retrieve()``. Elsewhere (an
        ``@action``, a write, a handler of the project's) the rows the plan prefetches
        are loaded whole, since that code may read, copy or save any of their columns.
        """
        view: Any = self
        if getattr(getattr(view, "request", None), "method", "GET") not in SAFE_METHODS:
            return False
        return _drf_renders(type(view), getattr(view, "action", None))

    def get_autoprefetch_strict(self) -> bool:
        """Whether this view serializes in strict mode: the attribute, else the setting."""
        if not self.autoprefetch:
            return False
        if self.autoprefetch_strict is not None:
            return self.autoprefetch_strict
        return settings.STRICT

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]:
        serializer: BaseSerializer[Any]
        if "context" in kwargs and _drf_next(type(self), "get_serializer"):
            # DRF's, without building a context it would drop: drf-spectacular asks a view
            # overriding get_serializer() for its serializer with a context of its own,
            # where a view's get_serializer_context() may need what only a request sets.
            view: Any = self
            serializer = view.get_serializer_class()(*args, **kwargs)
        else:
            serializer = super().get_serializer(*args, **kwargs)  # type: ignore[misc]
        renders = self._renders_only(args, kwargs) and not vars(self).get(_LEFT_ALONE)
        if renders and (self.get_autoprefetch_strict() or observe.active()):
            strict.enable(serializer)  # observed: tracks fields, records what it would refuse
        else:
            strict.disable(serializer)  # e.g. switched on by @auto_prefetch
        if self.autoprefetch and self._writes(args, kwargs) and serializer_model(type(serializer)):
            _render_reloaded(serializer, self.reload_saved_instance)
        return serializer

    def reload_saved_instance(self, instance: Model) -> Model:
        """The row a write serializer renders: ``instance`` with the plan loaded onto it.

        The saved instance is rendered as DRF renders it, its relations loaded by the
        plan's queries (one per relation the plan loads, none for a plan loading
        nothing), from the related managers, as DRF would read them, and as they are
        now: after ``save()`` and whatever the view did after it. The row is not read
        again: a name only the view's queryset gives (an annotation) is rendered as DRF
        renders it on the saved instance. ``get_object()`` of DRF's own ``update()``
        reads the row before the save without the plan (DRF drops its prefetched rows
        after the save).
        """
        plan = self._write_plan()
        if plan is not None:
            plan = plan_for_row(plan, instance)  # what the saved row holds spares reads
        if plan is None or not (plan.relations or plan.annotation_items):
            return instance
        try:
            prefetch_onto([instance], plan, using=instance._state.db)
        except Exception as exc:  # an optimization only: DRF reads them lazily
            plan_failed(self._described(), type(instance), exc)
        return instance

    def _write_plan(self) -> Plan | None:
        """The plan of the serializer rendering a saved row; ``None`` where it cannot be
        told (the saved instance is then rendered as it is)."""
        try:
            return self.get_prefetch_plan()
        except Exception:
            return None

    @staticmethod
    def _renders_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether the serializer is given an instance to render and no input data."""
        has_instance = bool(args) or kwargs.get("instance") is not None
        return has_instance and len(args) < 2 and "data" not in kwargs

    @staticmethod
    def _writes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether the serializer is given input data, to save one row."""
        return len(args) > 1 or "data" in kwargs


_updates: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


#: View classes -> action (``None``: a generic view) -> whether DRF's own code serves it.
_SERVED: weakref.WeakKeyDictionary[type, dict[str | None, bool]] = weakref.WeakKeyDictionary()


def _drf_renders(view_class: type, action: str | None) -> bool:
    """Whether DRF's own ``list()`` or ``retrieve()`` serves ``action`` of
    ``view_class`` (for a generic view, DRF's ``get()`` calling them)."""
    known = _SERVED.setdefault(view_class, {})
    if action not in known:
        if action is None:
            handler = defining_class(view_class, "get")
            served = [defining_class(view_class, name) for name in ("list", "retrieve")]
            known[action] = drf_own(handler) and all(drf_own(each or handler) for each in served)
        else:
            owner = defining_class(view_class, action)
            known[action] = action in ("list", "retrieve") and drf_own(owner)
    return known[action]


def _drf_next(view_class: type, name: str) -> bool:
    """Whether the method ``name`` the mixin's own calls through ``super()`` in
    ``view_class`` is DRF's."""
    mro = view_class.__mro__
    after = mro[mro.index(AutoPrefetchMixin) + 1 :]
    return drf_own(next((klass for klass in after if name in vars(klass)), None))


def _drf_update(view_class: type) -> bool:
    """Whether ``update()`` of ``view_class`` is DRF's, or an override of the project's
    that hands over to it (``return super().update(request, *args, **kwargs)`` after a
    check of its own, as Weblate's views do): either way DRF's saves and then renders."""
    found = _updates.get(view_class)
    if found is None:
        found = _updates[view_class] = _hands_over(view_class)
    return found


def _hands_over(view_class: type) -> bool:
    for klass in view_class.__mro__:
        update = vars(klass).get("update")
        if update is None:
            continue
        if inspect.unwrap(update) is UpdateModelMixin.update:  # or DRF's, decorated
            return True
        if not calls_super(update, "update"):
            return False
    return False


_overriders: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def _overrides_get_serializer(view_class: type) -> bool:
    """Whether a class of ``view_class`` other than this mixin and DRF's defines
    ``get_serializer()``: it may pass keyword arguments of its own."""
    found = _overriders.get(view_class)
    if found is None:
        found = _overriders[view_class] = any(
            "get_serializer" in vars(klass)
            and klass is not AutoPrefetchMixin
            and not klass.__module__.startswith("rest_framework.")
            for klass in view_class.__mro__
        )
    return found


class _LazyContext(MutableMapping[str, Any]):
    """The view's serializer context while the mixin reads the arguments of an overridden
    ``get_serializer()``: built by ``build`` (``get_serializer_context``) when first read,
    if ever, so that a context that runs a query runs it only where planning needs it."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self.built: Any = None

    def _context(self) -> Any:
        if self.built is None:
            self.built = self._build()
        return self.built

    def __getitem__(self, key: str) -> Any:
        return self._context()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._context()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._context()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._context())

    def __len__(self) -> int:
        return len(self._context())


class _Captured(Exception):
    """Carries the keyword arguments a view's ``get_serializer()`` builds with."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.kwargs = kwargs


class _StandIn:
    """What ``get_serializer_class()`` returns while the mixin reads the arguments of an
    overridden ``get_serializer()``: calling it stops ``get_serializer()`` with them;
    any attribute (``Meta``) is the real class's. Not a class, so building it runs no
    ``__init_subclass__`` and leaves nothing behind."""

    def __init__(self, serializer_class: type) -> None:
        self._serializer_class = serializer_class

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _Captured(kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._serializer_class, name)


def _render_reloaded(serializer: BaseSerializer[Any], reload: Callable[[Model], Model]) -> None:
    """Make ``serializer`` render its saved instance as ``reload(instance)`` returns it.

    The row is read when ``.data`` is first rendered, after ``save()`` and whatever the
    view did after it (``perform_create()`` overrides included), so nothing is stale.
    """
    if not isinstance(serializer, Serializer):
        return
    to_representation = serializer.to_representation

    def reloading(data: Any) -> Any:
        if data is serializer.instance and isinstance(data, Model) and data.pk is not None:
            data = serializer.instance = reload(data)
        return to_representation(data)

    vars(serializer)["to_representation"] = reloading
