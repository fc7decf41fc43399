"""``manage.py prefetch_plans``: print what drf_autoprefetch will join and prefetch."""

from __future__ import annotations

import json
import textwrap
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from drf_autoprefetch import snapshot
from drf_autoprefetch.discovery import (
    Target,
    describe_failure,
    discover,
    is_serializer_class,
    is_view_class,
    serializer_target,
    unique,
    view_targets,
)
from drf_autoprefetch.explain import explain
from drf_autoprefetch.plan import Plan

EXPECTED = (
    "expected a dotted path to a serializer or a DRF view class, "
    "e.g. 'myapp.serializers.BookSerializer'"
)


def _suggestion_lines(plan: Plan) -> list[str]:
    """For each warning, the ``@hints(...)`` to add, where the planner can tell."""
    hints = dict(plan.suggestions)
    lines = []
    for warning in plan.warnings:
        hint = hints.get(warning)
        where = warning.split(": ", 1)[0]
        lines.append(f"  suggest for {where}: {hint}" if hint else f"  no suggestion for {where}")
    return lines


@dataclass(frozen=True)
class Entry:
    """One target with its plan, or with the reason it could not be planned."""

    target: Target
    plan: Plan | None = None
    error: str | None = None

    @property
    def failing(self) -> bool:
        return self.plan is None or bool(self.plan.warnings)

    @property
    def not_applied(self) -> str | None:
        """Why the view never applies the plan (and how to fix it), or ``None``."""
        misplaced = self.target.misplaced
        return None if misplaced is None else f"{misplaced.message} {misplaced.hint}"

    def header(self, actions: list[str] | None = None) -> str:
        target = self.target
        shown = ", ".join(actions) if actions else target.action
        where = target.target if shown is None else f"{target.target} {shown}"
        if target.target != target.serializer_path:
            where = f"{where} -> {target.serializer_path}"
        if target.assumed:
            where = f"{where} [serializer_class: get_serializer_class() needs a request]"
        if self.plan is None:
            return f"{where} (not planned)"
        if self.not_applied is not None:
            return f"{where} (not applied)"
        count = self.plan.query_count
        return f"{where} ({count} {'query' if count == 1 else 'queries'})"

    def as_text(
        self, *, suggest: bool = False, explained: bool = False, actions: list[str] | None = None
    ) -> str:
        errors = (self.not_applied, self.error)
        lines = [f"error: {error}" for error in errors if error is not None]
        if self.plan is not None:
            if explained:
                lines.extend(explain(self.plan))
                lines.extend(f"  ! {warning}" for warning in self.plan.warnings)
            else:
                lines.append(str(self.plan))
            if suggest:
                lines.extend(_suggestion_lines(self.plan))
        body = "\n".join(lines)
        return f"{self.header(actions)}\n{textwrap.indent(body, '  ')}"

    def record(self) -> dict[str, Any]:
        """This entry in a snapshot."""
        key = snapshot.endpoint_key(self.target.target, self.target.action)
        return snapshot.record(key, self.target.serializer_path, self.plan, self.error)

    def as_dict(self, *, suggest: bool = False, explained: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target.target,
            "action": self.target.action,
            "serializer": self.target.serializer_path,
        }
        if self.plan is not None:
            data["plan"] = self.plan.as_dict()
            if explained:
                data["explain"] = explain(self.plan)
            if suggest:
                data["suggestions"] = [
                    {"warning": warning, "hint": hint} for warning, hint in self.plan.suggestions
                ]
        else:
            data["error"] = self.error
        if self.not_applied is not None:
            data["not_applied"] = self.not_applied
        return data


def import_class(path: str) -> Any:
    """``import_string``, also reaching a class nested in a class (``module.Outer.Inner``)."""
    try:
        return import_string(path)
    except ImportError as exc:
        head, _, name = path.rpartition(".")
        if "." not in head:
            raise
        try:
            owner = import_class(head)
        except ImportError:
            raise exc from None
        if not isinstance(owner, type) or not hasattr(owner, name):
            raise
        return getattr(owner, name)


def resolve(path: str) -> list[Target]:
    """The targets one command-line argument names."""
    try:
        obj = import_class(path)
    except ImportError as exc:
        raise CommandError(f"Cannot import {path!r} ({exc}); {EXPECTED}.") from exc
    if is_serializer_class(obj):
        return [serializer_target(obj)]
    if is_view_class(obj):
        targets = view_targets(obj)
        if not targets:
            raise CommandError(
                f"{path!r} has no serializer with a Meta.model to plan: neither "
                "get_serializer_class() without a request nor serializer_class gives one."
            )
        return targets
    raise CommandError(
        f"{path!r} is neither a serializer class nor a generic view class "
        f"(a GenericAPIView subclass); {EXPECTED}."
    )


class Command(BaseCommand):
    help = (
        "Print the select_related and Prefetch plan of every generic view in the URLconf "
        "(per action) and every @auto_prefetch serializer, or of the targets given."
    )
    # The command reports broken plans itself instead of stopping at the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "targets",
            nargs="*",
            metavar="TARGET",
            help="Dotted path to a serializer class or a view class. Default: everything.",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format (default: text).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit with status 1 when any plan has warnings or could not be built.",
        )
        parser.add_argument(
            "--snapshot",
            metavar="FILE",
            help="Write every endpoint's predicted query count and plan digest to FILE (JSON).",
        )
        parser.add_argument(
            "--compare",
            metavar="FILE",
            help="Exit with status 1 and show the difference when a count grew or a plan "
            "changed since the snapshot FILE.",
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Say why each relation is joined or prefetched, and which columns load.",
        )
        parser.add_argument(
            "--suggest",
            action="store_true",
            help="Print, under each warning, the @hints(...) that would plan what it reads.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[str] = options["targets"]
        if paths:
            targets = unique(target for path in paths for target in resolve(path))
        else:
            targets = discover()
        entries = self.plan_all(targets)
        if options["snapshot"] or options["compare"]:
            self.snapshot(entries, options["snapshot"], options["compare"])
            if options["check"]:
                self.check_entries(entries)
            return
        shown = {"suggest": options["suggest"], "explained": options["explain"]}
        if options["format"] == "json":
            data = [entry.as_dict(**shown) for entry in entries]
            self.stdout.write(json.dumps(data, indent=2))
        elif entries:
            texts = [
                group[0].as_text(**shown, actions=_actions(group)) for group in grouped(entries)
            ]
            self.stdout.write("\n\n".join(texts))
        else:
            self.stdout.write("Nothing to plan: no generic view and no @auto_prefetch serializer.")
        if options["check"]:
            self.check_entries(entries)

    def snapshot(self, entries: list[Entry], write: str | None, against: str | None) -> None:
        """Write the snapshot of ``entries`` to ``write``, or compare it with ``against``."""
        records = [entry.record() for entry in entries]
        if write:
            content = json.dumps(snapshot.document(records), indent=2) + "\n"
            Path(write).write_text(content, encoding="utf-8")
            self.stdout.write(f"Wrote {len(records)} endpoints to {write}.")
        if not against:
            return
        try:
            old = snapshot.load(Path(against).read_text(encoding="utf-8"), against)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        changes = snapshot.compare(old, records)
        for change in changes:
            self.stdout.write("\n".join(change.lines()))
        failing = [change for change in changes if change.fails]
        if failing:
            raise CommandError(
                f"{len(failing)} of {len(records)} endpoints differ from {against}: "
                f"{', '.join(change.endpoint for change in failing)}. If the change is "
                f"intended, write a new snapshot with --snapshot {against}.",
                returncode=1,
            )
        self.stdout.write(f"{len(records)} endpoints as in {against}.")

    def check_entries(self, entries: list[Entry]) -> None:
        """Fail (exit status 1) when a serializer's plan has warnings or errors, or a view
        never applies its plan.
        """
        serializers = dict.fromkeys(entry.target.serializer_path for entry in entries)
        failing = dict.fromkeys(e.target.serializer_path for e in entries if e.failing)
        views = dict.fromkeys(e.target.target for e in entries if e.target.view is not None)
        unapplied = dict.fromkeys(e.target.target for e in entries if e.not_applied)
        problems = []
        if failing:
            problems.append(
                f"{len(failing)} of {len(serializers)} serializers planned with warnings or "
                f"errors: {', '.join(failing)}."
            )
        if unapplied:
            problems.append(
                f"{len(unapplied)} of {len(views)} views never apply their plan "
                f"(AutoPrefetchMixin listed after the DRF view class): {', '.join(unapplied)}."
            )
        if problems:
            raise CommandError(" ".join(problems), returncode=1)

    def plan_all(self, targets: list[Target]) -> list[Entry]:
        """Each target's entry; each serializer class is planned once."""
        built: dict[type, Entry] = {}
        entries = []
        for target in targets:
            known = built.get(target.serializer)
            if known is None:
                known = built[target.serializer] = plan_entry(target)
            entries.append(Entry(target, known.plan, known.error))
        return entries


def grouped(entries: list[Entry]) -> list[list[Entry]]:
    """The entries, those of one view that share a serializer and its plan together (in
    the order of the first of each group)."""
    groups: dict[tuple[Any, ...], list[Entry]] = {}
    for entry in entries:
        target = entry.target
        key: tuple[Any, ...] = (target.target, target.serializer_path, entry.error, id(entry.plan))
        if target.action is None:
            key = (*key, id(entry))  # a serializer, or a view without actions: alone
        groups.setdefault(key, []).append(entry)
    return list(groups.values())


def _actions(group: list[Entry]) -> list[str] | None:
    actions = [entry.target.action for entry in group if entry.target.action is not None]
    return actions or None


def plan_entry(target: Target) -> Entry:
    try:
        return Entry(target, plan=target.plan())
    except Exception as exc:
        return Entry(target, error=describe_failure(exc))
