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

from drf_autoprefetch import conf
from drf_autoprefetch.discovery import (
    SerializerClass,
    Target,
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


def check_views(targets: Iterable[Target]) -> list[checks.CheckMessage]:
    """An error for each view of ``targets`` listing ``AutoPrefetchMixin`` after a DRF
    view class, whose plan is never applied.
    """
    messages: list[checks.CheckMessage] = []
    for view in dict.fromkeys(target.view for target in targets if target.view is not None):
        misplaced = misplaced_mixin(view)
        if misplaced is not None:
            error = checks.Error(misplaced.message, hint=misplaced.hint, obj=view, id=f"{TAG}.E002")
            messages.append(error)
    return messages


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
