"""A function view and an ``APIView`` optimized by ``@auto_prefetch`` on ``BookSerializer``."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from model_bakery import baker
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from demo.seeding import seed
from library.models import Book, Publisher
from library.serializers import BookSerializer
from tests.conftest import SIZE

pytestmark = pytest.mark.django_db

# Books joined to their publisher, authors joined to their profile, reviews.
BOOK_QUERIES = 3
NEWEST_FIRST = ("-published", "-id")


def get(path: str, **params):
    return APIClient().get(path, params, HTTP_ACCEPT="application/json")


def unoptimized(books) -> bytes:
    """What the view would answer without a plan: a list is serialized as it is."""
    return JSONRenderer().render(BookSerializer(list(books), many=True).data)


def recent(limit: int):
    return Book.objects.order_by(*NEWEST_FIRST)[:limit]


def test_recent_books_runs_one_query_per_relation_level(seeded, django_assert_num_queries):
    with django_assert_num_queries(BOOK_QUERIES):
        response = get("/library/recent-books/", limit=SIZE)

    assert response.status_code == 200
    assert len(response.json()) == SIZE


def test_recent_books_equal_the_unoptimized_rendering(seeded):
    response = get("/library/recent-books/", limit=SIZE)

    assert response.content == unoptimized(recent(SIZE))


def test_recent_books_come_newest_first_ten_by_default(seeded):
    seed(2 * SIZE, start=SIZE)
    body = get("/library/recent-books/").json()

    assert [book["id"] for book in body] == [book.pk for book in recent(10)]
    dates = [dt.date.fromisoformat(book["published"]) for book in body]
    assert dates == sorted(dates, reverse=True)


def test_recent_books_query_count_does_not_grow_with_rows(seeded):
    seed(3 * SIZE, start=SIZE)
    with CaptureQueriesContext(connection) as captured:
        response = get("/library/recent-books/", limit=4 * SIZE)

    assert len(response.json()) == 4 * SIZE
    assert len(captured.captured_queries) == BOOK_QUERIES


def test_recent_books_unoptimized_would_run_queries_per_row(seeded):
    with CaptureQueriesContext(connection) as captured:
        unoptimized(recent(SIZE))

    # The books, then the publisher, the authors and the reviews of each book.
    assert len(captured.captured_queries) >= 1 + 3 * SIZE


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_recent_books_reject_a_bad_limit(limit, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = get("/library/recent-books/", limit=limit)

    assert response.status_code == 400
    assert "limit" in response.json()


def test_publisher_books_run_one_query_more_for_the_publisher(seeded, django_assert_num_queries):
    publishers = Publisher.objects.filter(book__isnull=False).distinct()
    assert publishers.exists()
    for publisher in publishers:
        with django_assert_num_queries(1 + BOOK_QUERIES):
            response = get(f"/library/publishers/{publisher.pk}/books/")

        assert response.status_code == 200
        assert response.content == unoptimized(publisher.book_set.all())


def test_publisher_books_of_a_publisher_without_books(django_assert_num_queries):
    publisher = baker.make(Publisher)
    # The publisher and its books: with no book, there is nothing to prefetch.
    with django_assert_num_queries(2):
        response = get(f"/library/publishers/{publisher.pk}/books/")

    assert response.json() == []


def test_publisher_books_of_an_unknown_publisher():
    assert get("/library/publishers/999999/books/").status_code == 404


def test_strict_mode_finds_no_unplanned_query(seeded, settings):
    settings.DRF_AUTOPREFETCH = {"STRICT": True}
    publisher = Book.objects.values_list("publisher", flat=True).first()

    assert get("/library/recent-books/", limit=SIZE).status_code == 200
    assert get(f"/library/publishers/{publisher}/books/").status_code == 200
