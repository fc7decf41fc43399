"""Multiple databases: every query of a plan goes where the root query goes.

The rows live on the ``other`` alias only. A root queryset sent there with
``.using("other")``, or by a router that sends reads to a replica, must have its joins
and every prefetch (nested ones, a view's own ``Prefetch``, generic relations) read
from that alias too: not one query on ``default``, and the same response as without
the optimizer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections
from django.db.models import Prefetch
from django.test import override_settings
from rest_framework.renderers import JSONRenderer

from drf_autoprefetch import optimize
from tests.factories import build_world
from tests.test_reliability_differential import SERIALIZERS
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Review

pytestmark = pytest.mark.django_db(databases=["default", "other"])


class ReplicaRouter:
    """Reads from the replica (``other``), writes to ``default``."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "other"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True


@contextmanager
def queries_by_alias() -> Iterator[dict[str, list[str]]]:
    seen: dict[str, list[str]] = {"default": [], "other": []}
    with (
        connections["default"].execute_wrapper(_recorder(seen["default"])),
        connections["other"].execute_wrapper(_recorder(seen["other"])),
    ):
        yield seen


def _recorder(sink: list[str]) -> Any:
    def record(execute, sql, params, many, context):
        sink.append(sql)
        return execute(sql, params, many, context)

    return record


def _render(serializer_class, rows, context) -> bytes:
    return JSONRenderer().render(serializer_class(rows, many=True, context=context).data)


@pytest.fixture
def other_world():
    build_world(3, using="other")


ROUTES = {
    "using": lambda model: model._default_manager.using("other").all(),
    "replica-router": lambda model: model._default_manager.all(),
}


@pytest.mark.parametrize("route", ROUTES)
def test_every_plan_query_goes_to_the_alias_of_the_root_query(
    other_world, route, serializer_context
):
    with override_settings(DATABASE_ROUTERS=[ReplicaRouter()] if route == "replica-router" else []):
        problems = []
        for serializer_class in SERIALIZERS:
            rows = ROUTES[route](serializer_class.Meta.model)
            assert rows.db == "other"
            expected = _render(serializer_class, list(rows.all()), serializer_context)
            optimized = optimize(rows, serializer_class, context=serializer_context)
            with queries_by_alias() as seen:
                rendered = _render(serializer_class, optimized, serializer_context)
            if seen["default"] or not seen["other"]:
                problems.append(f"{serializer_class.__name__}: {seen['default']}")
            if rendered != expected:
                problems.append(f"{serializer_class.__name__}: another response")
    assert problems == [], "\n".join(problems)


def test_a_views_own_prefetch_and_the_plan_inside_it_follow_the_root(other_world):
    good = Prefetch("reviews", queryset=Review.objects.filter(rating__gte=4))
    rows = Book.objects.using("other").prefetch_related(good)
    expected = _render(shapes.BookReviewsSerializer, list(rows.all()), {})
    with queries_by_alias() as seen:
        rendered = _render(
            shapes.BookReviewsSerializer, optimize(rows, shapes.BookReviewsSerializer), {}
        )
    assert rendered == expected
    assert seen["default"] == []
    assert len(seen["other"]) == 2  # books, then good reviews joined to their reviewers
