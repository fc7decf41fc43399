"""Planning what ``@hints`` declare: select and prefetch paths, ``Prefetch`` objects
and annotations, checked against the model's relations."""

from __future__ import annotations

from typing import Any

from drf_autoprefetch.drafts import Draft, Walk
from drf_autoprefetch.exceptions import PlanError
from drf_autoprefetch.hinting import Hints
from drf_autoprefetch.modelinfo import Attr, model_attrs, relation_names
from drf_autoprefetch.tree import Kind

__all__ = ["apply_hints"]


def apply_hints(declared: Hints, draft: Draft, walk: Walk, owner: str) -> None:
    reached = [draft]
    for path in declared.select_related:
        reached.extend(_hinted_path(path, draft, walk, owner))
    for item in declared.prefetch_related:
        if isinstance(item, str):
            reached.extend(_hinted_path(item, draft, walk, owner))
        else:
            reached.extend(_hinted_prefetch(item, draft, walk, owner))
    draft.rows_read = True
    draft.annotations.update(declared.annotate)
    if declared.only:
        _read_hinted_columns(declared.only, draft)
    else:  # the code's columns are not declared: it may read any of these rows' columns
        for each in reached:
            each.whole_row = True


def _read_hinted_columns(only: tuple[str, ...], draft: Draft) -> None:
    """``only=("title", "publisher__name")``: columns of ``draft`` and of the relations
    the hints load below it."""
    for path in only:
        *names, column = path.split("__")
        current: Draft | None = draft
        for name in names:
            current = current.children.get(name) if current is not None else None
        if current is not None:
            current.reads.add(column)


def _relation_of(draft: Draft, name: str, walk: Walk, owner: str, path: str) -> Attr:
    model = draft.model
    attr = model_attrs(model).get(name) if model is not None else None
    if attr is None or attr.kind is None:
        label = model._meta.label if model is not None else "a generic relation"
        raise PlanError(
            f"{walk.where()}: hint {path!r} on {owner}: {name!r} is not a relation of "
            f"{label}. Relations of {label}: "
            f"{relation_names(model) if model is not None else '(unknown)'}."
        )
    return attr


def _hinted_path(path: str, draft: Draft, walk: Walk, owner: str) -> list[Draft]:
    current = draft
    reached = []
    for name in path.split("__"):
        current = current.relation(name, _relation_of(current, name, walk, owner, path))
        current.rows_read = True
        reached.append(current)
    return reached


def _hinted_prefetch(prefetch: Any, draft: Draft, walk: Walk, owner: str) -> list[Draft]:
    through = getattr(prefetch, "prefetch_through", None)
    if not isinstance(through, str):
        raise PlanError(
            f"{walk.where()}: hints on {owner} take lookup strings and Prefetch objects "
            f"in prefetch_related, not {prefetch!r}."
        )
    *head, last = through.split("__")
    current = draft
    reached = []
    for name in head:
        current = current.relation(name, _relation_of(current, name, walk, owner, through))
        current.rows_read = True
        reached.append(current)
    attr = _relation_of(current, last, walk, owner, through)
    _check_prefetch(prefetch, current, attr, walk, owner)
    target = current.relation(prefetch.to_attr or last, attr, lookup=last)
    target.rows_read = True
    if attr.kind is Kind.GENERIC:  # GenericPrefetch: one queryset per content type
        _fill(target, tuple(prefetch.querysets), prefetch, walk, owner)
    elif prefetch.queryset is not None:
        _fill(target, prefetch.queryset, prefetch, walk, owner)
    return [*reached, target]


def _fill(target: Draft, queryset: Any, prefetch: Any, walk: Walk, owner: str) -> None:
    """Give ``target`` the queryset of a hinted ``Prefetch``; two different ones clash."""
    if target.queryset is not None and not _same_rows(target.queryset, queryset):
        raise PlanError(
            f"{walk.where()}: Prefetch({prefetch.prefetch_through!r}) in the hints of "
            f"{owner} fills {target.attr!r} with another queryset than the hints of "
            f"{target.queryset_owner} do; give one of the two Prefetch objects another "
            "to_attr."
        )
    target.queryset = queryset
    target.queryset_owner = owner


def _check_prefetch(prefetch: Any, draft: Draft, attr: Attr, walk: Walk, owner: str) -> None:
    where = f"{walk.where()}: Prefetch({prefetch.prefetch_through!r}) in the hints of {owner}"
    if attr.kind is Kind.GENERIC and hasattr(prefetch, "querysets"):
        return
    if attr.kind is not Kind.PREFETCH:
        raise PlanError(
            f"{where} names a single-valued relation; use select_related="
            f"[{prefetch.prefetch_through!r}] instead."
        )
    to_attr = prefetch.to_attr
    if to_attr and draft.model is not None and to_attr in model_attrs(draft.model):
        raise PlanError(
            f"{where} sets to_attr={to_attr!r}, which is a field of "
            f"{draft.model._meta.label}; choose another name."
        )
    queryset = prefetch.queryset
    if queryset is not None and attr.model is not None and queryset.model is not attr.model:
        raise PlanError(
            f"{where} has a queryset of {queryset.model._meta.label}, but the relation "
            f"holds {attr.model._meta.label}."
        )


def _same_rows(left: Any, right: Any) -> bool:
    """Whether two querysets from hints (or tuples of them) select the same rows.

    Compared without SQL, so planning never needs a database connection.
    """
    if isinstance(left, tuple) or isinstance(right, tuple):
        return (
            isinstance(left, tuple)
            and isinstance(right, tuple)
            and len(left) == len(right)
            and all(map(_same_rows, left, right))
        )
    if left is right:
        return True
    mine, theirs = left.query, right.query
    return bool(
        left.model is right.model
        and mine.where == theirs.where
        and mine.order_by == theirs.order_by
        and mine.distinct == theirs.distinct
        and (mine.low_mark, mine.high_mark) == (theirs.low_mark, theirs.high_mark)
    )
