"""Checked by mypy (``make lint``), never run: ``optimize()`` keeps the model type."""

from __future__ import annotations

from django.db.models import Manager, QuerySet
from typing_extensions import assert_type

from drf_autoprefetch import optimize
from tests.testapp.models import Book
from tests.testapp.serializers import BookWithAuthorsSerializer


def _kept(books: QuerySet[Book], manager: Manager[Book], rows: list[Book]) -> None:
    assert_type(optimize(books, BookWithAuthorsSerializer), QuerySet[Book])
    assert_type(optimize(manager, BookWithAuthorsSerializer), QuerySet[Book])
    assert_type(optimize(rows, BookWithAuthorsSerializer), list[Book])
