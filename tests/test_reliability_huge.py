"""Huge unpaginated lists: 50,000 parents in one response, and streamed in chunks.

Django prefetches with one ``IN`` list holding a key of every parent row. SQLite limits
the parameters of one query (``SQLITE_MAX_VARIABLE_NUMBER``, 32,766 by default since
SQLite 3.32; some builds allow more, Django before 6.0 assumes 999), so without batching
a 50,000-row list fails with "too many SQL variables". The applier reads prefetch rows
in batches under the limit the connection reports; these tests hold it to the default
build's limit, check every query stays under it, and compare the response with the
rows read back column by column. Streamed with ``iterator(chunk_size=...)``, rows are
prefetched chunk by chunk and never more than about one chunk of them is alive.
"""

from __future__ import annotations

import gc
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from rest_framework import generics, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin, batching, optimize
from tests.factories import build_world
from tests.test_reliability_differential import SERIALIZERS
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Category, Chapter, Person

pytestmark = pytest.mark.django_db

PARENTS = 50_000
#: SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32.
SQLITE_DEFAULT_LIMIT = 32_766
#: Parents streamed, and the chunk size they are read and prefetched by.
STREAMED = 20_000
CHUNK_SIZE = 2_000


class BookListSerializer(serializers.ModelSerializer):
    chapters = shapes.ChapterSerializer(many=True)  # reverse foreign key, nested rows
    authors = serializers.PrimaryKeyRelatedField(many=True, read_only=True)  # many-to-many

    class Meta:
        model = Book
        fields = ["id", "title", "chapters", "authors"]


class BookList(AutoPrefetchMixin, generics.ListAPIView):
    queryset = Book.objects.all()
    serializer_class = BookListSerializer
    pagination_class = None


def _insert_select(model: Any, columns: str, select: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({columns}) {select}")


def build_books(count: int) -> list[dict[str, Any]]:
    """``count`` books with two chapters each and one or two authors shared by all.

    Returns the rows ``BookListSerializer`` must render, read back column by column.
    """
    category = Category.objects.create(name="All", slug="all")
    book_table = Book._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {book_table} (title, isbn, category_id) VALUES (%s, %s, %s)",
            [(f"Book {count - i:06d}", f"{i}", category.pk) for i in range(count)],
        )
    for number in (1, 2):
        _insert_select(
            Chapter, "book_id, number, title", f"SELECT id, {number}, 'Ch' FROM {book_table}"
        )
    bob, ann = Person.objects.create(name="Bob"), Person.objects.create(name="Ann")
    for person, where in ((bob, ""), (ann, "WHERE id % 2 = 0")):
        _insert_select(
            Book.authors.through,
            "book_id, person_id",
            f"SELECT id, {person.pk} FROM {book_table} {where}",
        )
    chapters: dict[int, list[dict[str, Any]]] = {}
    for book_id, pk, number, title in Chapter.objects.order_by("book_id", "-number").values_list(
        "book_id", "id", "number", "title"
    ):
        chapters.setdefault(book_id, []).append({"id": pk, "number": number, "title": title})
    return [
        {
            "id": pk,
            "title": title,
            "chapters": chapters[pk],
            "authors": [ann.pk, bob.pk] if pk % 2 == 0 else [bob.pk],  # by name
        }
        for pk, title in Book.objects.values_list("id", "title")  # by title, then id
    ]


@contextmanager
def parameter_counts() -> Iterator[list[int]]:
    """The parameter count of each query run; on SQLite, the default build's limit."""
    counts: list[int] = []

    def record(execute, sql, params, many, context):
        counts.append(len(params or ()))
        return execute(sql, params, many, context)

    with held_to_default_limit(), connection.execute_wrapper(record):
        yield counts


@contextmanager
def held_to_default_limit() -> Iterator[None]:
    if connection.vendor != "sqlite" or not hasattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER"):
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_LIMIT)
    try:
        assert batching.parameter_limit(connection.alias) == SQLITE_DEFAULT_LIMIT
        yield
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, previous)


def live_books() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is Book)


def test_fifty_thousand_parents_in_one_unpaginated_response():
    expected = build_books(PARENTS)
    with parameter_counts() as counts:
        response = BookList.as_view()(APIRequestFactory().get("/"))
        rows = json.loads(JSONRenderer().render(response.data))
        limit = batching.parameter_limit(connection.alias)
    assert len(rows) == PARENTS
    assert rows == expected
    if limit is not None:  # the books, then each prefetch in queries under the limit
        assert max(counts) <= limit
        assert len(counts) == 1 + 2 * -(-PARENTS // (limit - 1))
    else:
        assert len(counts) == 1 + 2


def test_streamed_parents_are_prefetched_per_chunk_in_bounded_memory():
    expected = build_books(STREAMED)
    queryset = optimize(Book.objects.all(), BookListSerializer)
    child = BookListSerializer()
    alive: list[int] = []
    with parameter_counts() as counts:
        for index, book in enumerate(queryset.iterator(chunk_size=CHUNK_SIZE)):
            assert child.to_representation(book) == expected[index]
            if index in (2 * CHUNK_SIZE, STREAMED // 2, STREAMED - 1):
                del book
                alive.append(live_books())
    assert index == STREAMED - 1
    assert len(counts) == 1 + 2 * (STREAMED // CHUNK_SIZE)  # the books, two per chunk
    # Never more than the chunk being read (and the one before it, until collected).
    assert max(alive) <= 2 * CHUNK_SIZE, alive


# --- every relation kind, batched --------------------------------------------------


@pytest.mark.parametrize("limit", [4, 9])
def test_every_shape_is_identical_when_every_prefetch_is_batched(
    limit, monkeypatch, serializer_context
):
    """A tiny limit splits every prefetch of every shape, at every level of nesting."""
    build_world(4)
    expected = {
        cls: JSONRenderer().render(
            cls(list(_rows(cls)), many=True, context=serializer_context).data
        )
        for cls in SERIALIZERS
    }
    monkeypatch.setattr(batching, "parameter_limit", lambda alias: limit)
    monkeypatch.setattr(batching, "_may_batch", lambda alias: True)  # a limited backend
    for cls in SERIALIZERS:
        queryset = optimize(_rows(cls), cls, context=serializer_context)
        rendered = cls(queryset, many=True, context=serializer_context).data
        assert JSONRenderer().render(rendered) == expected[cls], cls.__name__


def _rows(serializer_class):
    return serializer_class.Meta.model._default_manager.all()


def test_a_batched_prefetch_runs_one_query_per_batch(monkeypatch, django_assert_num_queries):
    build_world(4)  # 8 books: 1 query for them, 8 / 3 -> 3 queries for their chapters
    monkeypatch.setattr(batching, "parameter_limit", lambda alias: 3)
    monkeypatch.setattr(batching, "_may_batch", lambda alias: True)  # a limited backend
    queryset = optimize(Book.objects.all(), shapes.BookChaptersSerializer)
    with django_assert_num_queries(1 + 3):
        shapes.BookChaptersSerializer(queryset, many=True).data  # noqa: B018
