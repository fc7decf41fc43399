"""Declare what code the planner cannot read looks at: method fields, properties, methods."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Hints", "get_hints", "hints"]

HINTS_ATTRIBUTE = "_drf_autoprefetch_hints"

F = TypeVar("F")


@dataclass(frozen=True)
class Hints:
    """What one method or property reads, relative to the model instance it receives."""

    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[Any, ...] = ()
    only: tuple[str, ...] = ()
    annotate: tuple[tuple[str, Any], ...] = field(default=())


class _HintedProperty(property):
    """A ``property`` that carries hints (``property`` objects take no attributes)."""


def hints(
    *,
    select_related: Iterable[str] = (),
    prefetch_related: Iterable[Any] = (),
    only: Iterable[str] = (),
    annotate: Mapping[str, Any] | None = None,
) -> Callable[[F], F]:
    """Tell the planner what a method field or a model property/method reads.

    Decorate the ``get_<name>`` method of a ``SerializerMethodField``, or a model
    method or property used as a serializer ``source``. Paths are relative to the
    model instance the code receives. ``prefetch_related`` takes lookup strings and
    ``Prefetch`` objects (a filtered queryset with ``to_attr`` included)::

        @hints(select_related=["program"])
        def get_program_name(self, price):
            return price.program.name

    Put ``@hints`` below ``@property`` or ``@cached_property`` (closest to the function),
    or above ``@property``; both work.
    """
    if isinstance(select_related, str) or isinstance(prefetch_related, str):
        raise TypeError(
            "hints() takes sequences of lookups, not a single string: write "
            "select_related=['author'] rather than select_related='author'."
        )
    declared = Hints(
        select_related=tuple(select_related),
        prefetch_related=tuple(prefetch_related),
        only=tuple(only),
        annotate=tuple((annotate or {}).items()),
    )

    def decorate(target: F) -> F:
        if isinstance(target, property):
            hinted = _HintedProperty(target.fget, target.fset, target.fdel, target.__doc__)
            setattr(hinted, HINTS_ATTRIBUTE, declared)
            return hinted  # type: ignore[return-value]
        setattr(target, HINTS_ATTRIBUTE, declared)
        return target

    return decorate


def get_hints(target: object) -> Hints | None:
    """The hints declared on a function, property or cached property, if any."""
    found = getattr(target, HINTS_ATTRIBUTE, None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    for inner in ("fget", "func", "__func__"):
        wrapped = getattr(target, inner, None)
        if wrapped is not None:
            found = getattr(wrapped, HINTS_ATTRIBUTE, None)
            if found is not None:
                return found  # type: ignore[no-any-return]
    return None
