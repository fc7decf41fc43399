"""System checks: every serializer a view or ``@auto_prefetch`` uses must plan cleanly.

Registered in :meth:`drf_autoprefetch.apps.DrfAutoprefetchConfig.ready` with the tag
``drf_autoprefetch``; run with ``manage.py check`` (``--tag drf_autoprefetch`` for
these alone). Ids are documented in ``docs/checks.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.models import Model

from drf_autoprefetch import conf
from drf_autoprefetch.actions import action_serializer
from drf_autoprefetch.discovery import (
    SerializerClass,
    Target,
    builds_own_queryset,
    describe_failure,
    discover,
    dotted_path,
    misplaced_mixin,
    plan_unenforced,
    provided_names,
    queryset_known,
    unique_serializers,
)
from drf_autoprefetch.drafts import warning_text
from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.plan import Plan
from drf_autoprefetch.walk import serializer_model

__all__ = ["check_plans", "check_serializer", "check_views"]

TAG = "drf_autoprefetch"

E001_HINT = (
    "Fix the field's source, or the @hints(...) named in the message; then review the "
    "plan with 'manage.py prefetch_plans {path}'."
)
W001_HINT = (
    "'manage.py prefetch_plans --suggest {path}' prints the @hints(...) line that would "
    "plan it, where one can. To accept it as it is, add 'drf_autoprefetch.W001' to "
    "SILENCED_SYSTEM_CHECKS."
)
W002_HINT = (
    "Let the serializer build its fields from an empty context (read the request with "
    "self.context.get('request')), so that its plan can be checked at start-up."
)


def check_plans(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Plan the serializer of every generic view in the URLconf and every
    ``@auto_prefetch`` serializer; report views that never apply their plan, bad sources,
    bad hints and unplannable fields.
    """
    targets = discover()
    querysets: dict[SerializerClass, _Querysets] = {}
    for target in targets:
        querysets.setdefault(target.serializer, _Querysets()).add(target)
    messages: list[checks.CheckMessage | _Cause] = [*check_views(targets)]
    causes: dict[str, _Cause] = {}
    for serializer in unique_serializers(targets):
        found, plan = _check_one(serializer, querysets[serializer])
        messages.extend(found)
        for message, paths in plan.causes if plan is not None else ():
            if message not in causes:  # reported where it is first met
                causes[message] = _Cause(message, serializer)
                messages.append(causes[message])
            causes[message].add(paths)
    return [item.warning() if isinstance(item, _Cause) else item for item in messages]


@dataclass
class _Querysets:
    """What the querysets one serializer renders are known to carry, over its views."""

    provided: set[str] = field(default_factory=set)
    known: bool = True

    def add(self, target: Target) -> None:
        self.provided.update(provided_names(target))
        self.known = self.known and queryset_known(target)


@dataclass
class _Cause:
    """One cause of warnings, with every field it affects in every serializer checked."""

    message: str
    first: SerializerClass
    paths: list[str] = field(default_factory=list)

    def add(self, paths: Iterable[str]) -> None:
        self.paths.extend(path for path in paths if path not in self.paths)

    def warning(self) -> checks.CheckMessage:
        return _unplannable(warning_text(self.paths, self.message), self.first)


W003_HINT = (
    "DRF renders such rows as long as they have the fields the serializer reads; give the "
    "view (or the action) a serializer for its rows' model, or a queryset of the "
    "serializer's model, and the plan applies."
)


def check_views(targets: Iterable[Target]) -> list[checks.CheckMessage]:
    """An error for each view of ``targets`` listing ``AutoPrefetchMixin`` after a DRF
    view class, whose plan is never applied; a warning for each view and serializer
    whose class-level queryset holds rows of another model, left unoptimized.
    """
    targets = list(targets)
    messages: list[checks.CheckMessage] = []
    for shown in dict.fromkeys(target.view for target in targets if target.view is not None):
        misplaced = misplaced_mixin(shown)
        if misplaced is not None:
            error = checks.Error(
                misplaced.message, hint=misplaced.hint, obj=shown, id=f"{TAG}.E002"
            )
            messages.append(error)
    seen: set[tuple[type, type]] = set()
    for target in targets:
        view = target.view
        if view is None or (view, target.serializer) in seen or _reads_own(target):
            continue
        seen.add((view, target.serializer))
        text = _other_rows(view, target.serializer)
        if text is not None:
            messages.append(checks.Warning(text, hint=W003_HINT, obj=view, id=f"{TAG}.W003"))
    return messages


def _reads_own(target: Target) -> bool:
    """Whether ``target`` is an ``@action`` whose code says what it renders (see
    :mod:`drf_autoprefetch.actions`): its serializer's rows are its own, not the view's
    queryset's, which it may read only to find the one row it acts on."""
    if target.view is None or target.action is None:
        return False
    decided, _ = action_serializer(target.view, target.action)
    return decided


def _other_rows(view: type, serializer: SerializerClass) -> str | None:
    """Why ``view`` leaves its queryset unoptimized for ``serializer``: its class-level
    queryset holds rows of a model that is not the serializer's (nor a parent or child
    of it); ``None`` where it does not say so."""
    if builds_own_queryset(view):
        return None  # the class-level queryset need not hold the rows (pretix's rules)
    rows = getattr(getattr(view, "queryset", None), "model", None)
    model = serializer_model(serializer)
    if not (isinstance(rows, type) and issubclass(rows, Model)) or model is None:
        return None
    if issubclass(rows, model) or issubclass(model, rows):
        return None
    if rows._meta.concrete_model is model._meta.concrete_model:
        return None
    return (
        f"{view.__name__} renders {rows._meta.label} rows with {serializer.__name__}, a "
        f"serializer for {model._meta.label}: its queryset is left unoptimized."
    )


def check_serializer(
    serializer: SerializerClass, provided: Iterable[str] = ()
) -> list[checks.CheckMessage]:
    """The check messages for one serializer class.

    ``provided``: names the views' querysets annotate, which root fields may read.
    """
    found, plan = _check_one(serializer, _Querysets(set(provided)))
    if plan is None:
        return found
    return [_unplannable(warning, serializer) for warning in plan.warnings]


def _check_one(
    serializer: SerializerClass, querysets: _Querysets
) -> tuple[list[checks.CheckMessage], Plan | None]:
    """The errors of one serializer, and its plan when its warnings are to be reported."""
    path = dotted_path(serializer)
    try:
        plan = plan_unenforced(serializer, querysets.provided, known=querysets.known)
    except PlanError as exc:
        hint = E001_HINT.format(path=path)
        return [checks.Error(str(exc), hint=hint, obj=serializer, id=f"{TAG}.E001")], None
    except Exception as exc:
        message = f"{path} {describe_failure(exc)}"
        warning = checks.Warning(message, hint=W002_HINT, obj=serializer, id=f"{TAG}.W002")
        return [warning], None
    if conf.settings.ON_UNPLANNABLE == "ignore":
        return [], None
    return [], plan


def _unplannable(text: str, serializer: SerializerClass) -> checks.CheckMessage:
    hint = W001_HINT.format(path=dotted_path(serializer))
    return checks.Warning(text, hint=hint, obj=serializer, id=f"{TAG}.W001")
