"""Planning: which :class:`~drf_autoprefetch.plan.Plan` a serializer gets.

A serializer class with fixed fields has one plan, built once; one whose fields vary
(by its keyword arguments, its context or a selection) has one per variant, kept in a
bounded cache. The plans themselves come from the walk of the field tree
(:mod:`drf_autoprefetch.walk`). Nothing here builds a QuerySet to run or runs a query,
so its tests need no database.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.signals import setting_changed
from rest_framework import serializers
from rest_framework.fields import Field

from drf_autoprefetch import conf, contextual
from drf_autoprefetch.closed import builds_from_arguments
from drf_autoprefetch.exceptions import ModelMismatch, PlanError
from drf_autoprefetch.modelinfo import (
    model_attrs,
)
from drf_autoprefetch.plan import Plan
from drf_autoprefetch.provided import provided_names
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
from drf_autoprefetch.walk import MAX_SELF_NESTING, build_plan

__all__ = [
    "check_unresolved",
    "clear_cache",
    "needs_context",
    "plan_failed",
    "plan_for",
    "plan_for_queryset",
    "plan_for_row",
    "tests_context",
]

logger = logging.getLogger(__name__)


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
    """Whether the plan of ``serializer_class`` is cached and needs no context to be
    built (it may still read behind tests of it: see :func:`tests_context`)."""
    return serializer_class in _static


def tests_context(serializer_class: type) -> bool:
    """Whether the cached plan of ``serializer_class`` has reads behind tests of the
    context (:mod:`drf_autoprefetch.contextual`): the context spares them or not."""
    plan = _static.get(serializer_class)
    return plan is not None and contextual.asks(plan.conditions)


def plan_for_queryset(
    serializer_class: type[serializers.BaseSerializer[Any]],
    queryset: Any,
    *,
    context: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    known: bool = True,
    told: bool = True,
) -> Plan:
    """:func:`plan_for`, where root fields may read annotations ``queryset`` already has.

    A serializer field reading ``book_count`` from ``Author.objects.annotate(
    book_count=...)`` names nothing on the model; it is fine when the queryset the
    plan is applied to provides it. ``known=False`` says the rows rendered may carry
    more than ``queryset`` does (a view's own code sets attributes on them): such a
    name is then a warning, not an error. ``told=False`` says ``context`` is not the one
    the rows render with (an action's code builds the serializer with its own): reads
    behind tests of the context are then all planned.
    """
    plan = _resolved(serializer_class, context, kwargs)
    if not (plan.unresolved or plan.conditions):
        return _enforce(_reported(plan))
    names = provided_names(queryset)
    plan = check_unresolved(plan, names, known=known)
    tested = contextual.met(plan.conditions, context if told else None)
    return _enforce(_reported(_spared(plan, names, tested)))


def _spared(plan: Plan, provided: Container[str], tested: frozenset[str] = frozenset()) -> Plan:
    """``plan`` for a queryset providing ``provided``, rendered with a context meeting
    the conditions ``tested``: see :meth:`Plan.spared_by`. Kept per plan and names met
    (a queryset builds its rows alike request after request)."""
    own = {name for name, _ in plan.annotation_items}  # the plan's own annotations
    met = tested | {name for name in plan.conditions if name in provided or name in own}
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


def plan_for_row(plan: Plan, row: Any) -> Plan:
    """``plan`` for rows in hand like ``row`` (a saved instance): reads behind guards
    that what ``row`` carries spares (its attributes, the relations it holds) are left
    out, as :func:`plan_for_queryset` leaves them out for a queryset providing them."""
    if not plan.conditions:
        return plan
    state = getattr(row, "_state", None)
    held = {*vars(row), *getattr(state, "fields_cache", ())}
    held.update(getattr(row, "_prefetched_objects_cache", None) or ())
    return _spared(plan, frozenset(held))


#: The memo key of :func:`_spared` (no lookup path contains a space).
_SPARED = "spared ?"


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
        serializer_class, DYNAMIC_MEMBERS, ("rest_framework",)
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
