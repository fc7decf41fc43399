"""Hinted aggregates computed the way a related manager would count.

``@hints(annotate={"n": Count("reviews")})`` means "``obj.reviews.count()``, for every
row at once". Added to a query as it is, Django joins ``reviews`` into the query and
groups by every column, which can change other values: the join is shared with the
view's own aggregates (fan-out), with the filter of a prefetch through the same
relation, it counts rows the related model's default manager hides, and the GROUP BY
drops the default ordering. A correlated subquery over the related model's default
manager has none of those effects, so an aggregate over a to-many relation is rewritten
into one:

    Count("reviews", filter=Q(reviews__rating__gte=3))
    -> Coalesce(Subquery(Review._default_manager.filter(book=OuterRef("pk"))
                         .values("book").annotate(v=Count("pk", filter=Q(rating__gte=3)))
                         .values("v")), 0)

Expressions of any other shape are returned unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import FieldDoesNotExist, FieldError
from django.db.models import F, Model, OuterRef, Q, Subquery, Value
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce

__all__ = ["correlated"]

_VALUE = "_drf_autoprefetch_value"


def correlated(model: type[Model], expression: Any) -> Any:
    """``expression`` as a correlated subquery on ``model``'s rows, where it can be."""
    parts = _parts(model, expression)
    if parts is None:
        return expression
    related, back, rest, condition = parts
    inner = copy.copy(expression)
    inner.source_expressions = [F(rest)]
    inner.filter = condition
    inner.default = None
    rows = (
        related._default_manager.filter(**{back: OuterRef("pk")})
        .order_by()
        .values(back)
        .annotate(**{_VALUE: inner})
        .values(_VALUE)
    )
    output = _declared_output(expression)
    subquery = Subquery(rows, output_field=output) if output is not None else Subquery(rows)
    fallback = _fallback(expression)
    if fallback is None:
        return subquery
    if output is None:
        return Coalesce(subquery, Value(fallback))
    return Coalesce(subquery, Value(fallback), output_field=output)


def _declared_output(expression: Any) -> Any:
    """The aggregate's output field where it is known before resolving (``Count``'s, or
    one given explicitly); otherwise Django infers it from the subquery."""
    try:
        return expression.output_field
    except (AttributeError, FieldError):
        return None


def _parts(model: type[Model], expression: Any) -> tuple[type[Model], str, str, Any] | None:
    """The related model, its path back to ``model``, the aggregated path below it and
    the filter rewritten below it; ``None`` for an expression of another shape."""
    if not isinstance(expression, Aggregate) or getattr(expression, "order_by", None):
        return None
    sources: list[Any] = expression.source_expressions
    if len(sources) != 1 or not isinstance(sources[0], F):
        return None
    first, _, rest = str(getattr(sources[0], "name", "")).partition("__")
    relation = _to_many(model, first)
    if relation is None:
        return None
    related, back = relation
    rest = rest or "pk"
    if rest.split("__")[0] == back:
        return None  # back through the same relation: its join would be reused
    condition = expression.filter
    if condition is not None:
        # Django 6 wraps the Q object (``AggregateFilter(condition)``).
        wrapped = getattr(condition, "condition", None)
        below = _below(condition if wrapped is None else wrapped, first, related, back)
        if below is None:
            return None
        condition = below if wrapped is None else type(condition)(below)
    return related, back, rest, condition


def _to_many(model: type[Model], name: str) -> tuple[type[Model], str] | None:
    """The model a to-many relation ``name`` holds and the lookup from it back to ``model``."""
    try:
        field: Any = model._meta.get_field(name)
    except Exception:  # an annotation or a name Django resolves otherwise
        return None
    if not (field.is_relation and (field.one_to_many or field.many_to_many)):
        return None
    if hasattr(field, "object_id_field_name") or field.related_model is None:
        return None  # generic relations: left as they are
    if field.auto_created and not field.concrete:  # reverse FK or reverse M2M
        remote = field.field
        if remote.many_to_many:
            return field.related_model, remote.name
        if remote.target_field is not model._meta.pk:
            return None  # a foreign key to another column than the primary key
        return field.related_model, remote.name
    if type(field).__module__.startswith("django."):  # a many-to-many field
        return field.related_model, field.related_query_name()
    return None  # a custom relation field (e.g. django-taggit's manager)


def _below(condition: Any, prefix: str, related: type[Model], back: str) -> Q | None:
    """``condition`` with every lookup rooted below ``prefix`` (in ``related``), or
    ``None`` if it reads anything else (another relation, an expression of the outer
    row, the relation back to the outer row)."""
    if not isinstance(condition, Q):
        return None
    children: list[Any] = []
    child: Any
    for child in condition.children:
        if isinstance(child, Q):
            below = _below(child, prefix, related, back)
            if below is None:
                return None
            children.append(below)
            continue
        if not (isinstance(child, tuple) and len(child) == 2):
            return None  # an expression as a condition
        key, value = child
        if hasattr(value, "resolve_expression"):
            return None
        head, _, tail = key.partition("__")
        if head != prefix:
            return None
        first = tail.split("__")[0]
        if first == back:
            return None
        if not _is_field(related, first):  # reviews__isnull: a lookup on the rows' key
            tail = f"pk__{tail}" if tail else "pk"
        children.append((tail, value))
    rewritten = copy.copy(condition)
    rewritten.children = children
    return rewritten


def _is_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return name == "pk"
    return True


def _fallback(expression: Any) -> Any:
    """What the aggregate gives over no row: its ``default``, else e.g. 0 for ``Count``."""
    default = getattr(expression, "default", None)
    if default is not None:
        return getattr(default, "value", default)
    return getattr(expression, "empty_result_set_value", None)
