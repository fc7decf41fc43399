"""Reads behind a test of the serializer's context.

A method field may render a nested serializer only where its context asks for it::

    def get_optionsets(self, obj):
        optionsets = obj.optionsets.all()
        if self.context.get("optionsets"):
            return OptionSetSerializer(optionsets, many=True, context=self.context).data
        return [optionset.uri for optionset in optionsets]

Inference reads both branches; each read behind such a test is spared where the
context the rows are rendered with makes the test go the other way. The test is named
as a condition (see :data:`~drf_autoprefetch.tree.Conditions`) that :func:`met`
evaluates against that context. Only tests that read nothing but the context are
conditions: ``self.context.get("k")`` (with a constant default or none),
``self.context["k"]``, ``"k" in self.context`` and their negations.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PREFIX", "asks", "condition", "is_condition", "met", "without_conditions"]

#: How every condition of the context begins (no lookup path contains a space).
PREFIX = "?context "

#: The kinds of test: the value's truth (``get``, ``[]``), or the key's presence (``in``).
TRUTH = "truth"
PRESENCE = "presence"


def condition(key: str, test: str, default: bool, spares_when: bool) -> str:
    """The condition met where the test of ``key`` comes out ``spares_when``: the test
    is the value's truth (``default``: the truth of a missing key) or the key's presence."""
    return PREFIX + json.dumps([key, test, default, spares_when])


def is_condition(name: str) -> bool:
    return name.startswith(PREFIX)


def asks(names: Iterable[str]) -> bool:
    """Whether any of ``names`` (a plan's conditions) is a test of the context."""
    return any(is_condition(name) for name in names)


def met(names: Iterable[str], context: Mapping[str, Any] | None) -> frozenset[str]:
    """The conditions among ``names`` that ``context`` meets; none where the context is
    not known (``None``): every read is then planned."""
    if context is None:
        return frozenset()
    return frozenset(name for name in names if is_condition(name) and _holds(name, context))


@functools.lru_cache(maxsize=1024)
def _parsed(name: str) -> tuple[str, str, bool, bool]:
    """The parts of a condition (see :func:`condition`), read once per name: the plans
    applied on every request hold few distinct ones."""
    key, test, default, spares_when = json.loads(name[len(PREFIX) :])
    return str(key), str(test), bool(default), bool(spares_when)


def _holds(name: str, context: Mapping[str, Any]) -> bool:
    key, test, default, spares_when = _parsed(name)
    try:
        if test == PRESENCE:
            outcome = key in context
        else:
            outcome = bool(context[key]) if key in context else default
    except Exception:  # a value whose truth cannot be told: the read stays planned
        return False
    return bool(outcome) == spares_when


def without_conditions(
    unless: tuple[frozenset[str], ...] | None,
) -> tuple[frozenset[str], ...] | None:
    """``unless`` without conditions of the context: for code rendered with a context
    other than the one the plan is applied with (a serializer built in code with a
    context of its own). A read spared only by them is then made whatever is provided."""
    if not unless:
        return unless
    kept = tuple(frozenset(name for name in each if not is_condition(name)) for each in unless)
    return None if any(not each for each in kept) else kept
