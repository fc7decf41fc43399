"""Related instances the rows already share stay shared.

Without the library, the rows of ``category.books.all()`` all hold that very
``category``, and ``prefetch_related("category")`` gives the books of one category one
instance. Code caching per instance (pretix's ``event.settings``) relies on it: a join
giving each row a copy of its own would make that code query once per row.
"""

from __future__ import annotations

import json

import django
import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from drf_autoprefetch import optimize
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Category, Chapter, Review


class BookCategorySerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category"]


class ChapterBookSerializer(serializers.ModelSerializer):
    book = BookCategorySerializer(read_only=True)

    class Meta:
        model = Chapter
        fields = ["id", "number", "book"]


@pytest.fixture
def books(world):
    """Two more books of the first category: rows sharing a related row."""
    category = Category.objects.filter(books__isnull=False).first()
    for n in range(2):
        Book.objects.create(title=f"More {n}", isbn=f"more-{n}", category=category)
    return world


def read(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        rows = list(queryset)
        data = serializer_class(rows, many=True).data
    return rows, data, len(captured)


def category_books():
    category = Category.objects.filter(books__isnull=False).first()
    return category, category.books.all()


def test_the_rows_of_a_related_manager_keep_its_instance(books):
    category, plain = category_books()
    _, expected, plain_queries = read(BookCategorySerializer, plain)

    rows, data, queries = read(
        BookCategorySerializer, optimize(category.books.all(), BookCategorySerializer)
    )

    assert data == expected
    assert queries == plain_queries == 1
    assert len(rows) == 3
    assert all(row.category is category for row in rows)


@pytest.mark.parametrize(
    ("serializer_class", "queryset", "path", "queries"),
    [
        (BookCategorySerializer, lambda: Book.objects.prefetch_related("category"), "category", 2),
        (
            ChapterBookSerializer,
            lambda: Chapter.objects.prefetch_related("book__category"),
            "book.category",
            3,
        ),
    ],
    ids=["prefetched", "prefetched-below"],
)
def test_instances_the_queryset_prefetches_stay_one_per_row_of_the_database(
    books, serializer_class, queryset, path, queries
):
    _, expected, plain_queries = read(serializer_class, queryset())

    rows, data, optimized_queries = read(serializer_class, optimize(queryset(), serializer_class))

    def target(row):
        for name in path.split("."):
            row = getattr(row, name)
        return row

    assert data == expected
    assert optimized_queries == plain_queries == queries
    instances = {id(target(row)) for row in rows}
    assert len(instances) == len({target(row).pk for row in rows}) < len(rows)


class CategoryBooksSerializer(serializers.ModelSerializer):
    books = serializers.StringRelatedField(many=True)

    class Meta:
        model = Category
        fields = ["id", "slug", "books"]


class BookCategoryBooksSerializer(serializers.ModelSerializer):
    """Each book renders its category with that category's books."""

    category = CategoryBooksSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "category"]


def fresh(category):
    """The category read again: the rows of its manager hold it, and the prefetch below
    them fills its cache, which its manager then serves."""
    return Category.objects.get(pk=category.pk)


def more_books_of(category):
    return Book.objects.filter(category=category, title__startswith="More")


@pytest.mark.parametrize(
    ("queryset", "queries"),
    [
        # The rows hold their category (the manager's): what is below it still loads.
        (lambda category: fresh(category).books.all(), 2),
        # The view's own filtered Prefetch below a relation the rows hold, or it joins.
        (
            lambda category: fresh(category).books.prefetch_related(
                Prefetch("category__books", queryset=more_books_of(category))
            ),
            2,
        ),
        (
            lambda category: Book.objects.select_related("category").prefetch_related(
                Prefetch("category__books", queryset=more_books_of(category))
            ),
            2,
        ),
        # ... or below a relation the view prefetches without a queryset of its own.
        (
            lambda category: Book.objects.prefetch_related(
                Prefetch("category__books", queryset=more_books_of(category))
            ),
            3,
        ),
    ],
    ids=[
        "related-manager",
        "related-manager-own-prefetch",
        "joined-own-prefetch",
        "prefetched-own-prefetch",
    ],
)
def test_what_is_below_a_shared_instance_is_loaded_onto_it(books, queryset, queries):
    category, _ = category_books()
    _, expected, _ = read(BookCategoryBooksSerializer, queryset(category))

    _, data, optimized_queries = read(
        BookCategoryBooksSerializer, optimize(queryset(category), BookCategoryBooksSerializer)
    )

    assert data == expected
    assert optimized_queries == queries


class ReviewerSerializer(serializers.ModelSerializer):
    reviewer = serializers.StringRelatedField()

    class Meta:
        model = Review
        fields = ["id", "rating", "reviewer"]


class BookReviewersSerializer(serializers.ModelSerializer):
    reviews = ReviewerSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "reviews"]


def test_a_lookup_below_a_filtered_prefetch_of_the_views_keeps_its_order(books):
    """``Prefetch("reviews", filtered)`` then ``"reviews__reviewer"``: the plan's load of
    the reviewers comes after the view's reviews (before them, Django would load the
    reviews unfiltered and refuse the view's Prefetch)."""

    def queryset():
        return Book.objects.prefetch_related(
            Prefetch("reviews", queryset=Review.objects.filter(rating__gte=3)),
            "reviews__reviewer",
        )

    _, expected, plain_queries = read(BookReviewersSerializer, queryset())

    _, data, queries = read(BookReviewersSerializer, optimize(queryset(), BookReviewersSerializer))

    assert data == expected
    assert queries == plain_queries == 3


@pytest.mark.django_db
def test_a_plain_lookup_with_prefetches_of_its_own_below_it(world):
    """The view prefetches a relation by its name and the levels below it with querysets
    of its own (Weblate's translations: ``"component"``, then
    ``Prefetch("component__linked_component", ...)`` and its project): the plan's joins
    below go into those prefetches, none is prefetched twice, and the view's querysets
    still decide the rows (here: a city left out)."""
    from tests.testapp.models import Address, City

    left_out = City.objects.filter(address__residents__reviews__isnull=False).first()

    def queryset():
        return Review.objects.prefetch_related(
            "reviewer",
            Prefetch("reviewer__address", queryset=Address.objects.all()),
            Prefetch("reviewer__address__city", queryset=City.objects.exclude(pk=left_out.pk)),
        ).order_by("id")

    expected = json.dumps(shapes.ReviewSerializer(queryset(), many=True).data)
    optimized = optimize(queryset(), shapes.ReviewSerializer)

    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(shapes.ReviewSerializer(optimized, many=True).data)

    assert data == expected
    assert '"city": null' in data
    assert len(captured) == 4  # reviews, people, addresses, cities joined to countries


@pytest.mark.django_db
def test_the_views_prefetches_below_a_level_it_joins_stay_where_django_runs_them(world):
    """Weblate's units: the view joins ``translation__component`` and also prefetches it
    (Django skips a prefetch of a level already joined, with anything nested in its
    queryset) and the levels below by lookups of their own, which Django runs through
    the joined level: those stay top-level lookups."""
    from tests.testapp.models import Address, Person

    def queryset():
        return (
            Review.objects.select_related("reviewer")
            .prefetch_related(
                Prefetch("reviewer", queryset=Person.objects.all()),
                Prefetch("reviewer__address", queryset=Address.objects.select_related("city")),
            )
            .order_by("id")
        )

    with CaptureQueriesContext(connection) as naive:
        expected = json.dumps(shapes.ReviewSerializer(queryset(), many=True).data)
    optimized = optimize(queryset(), shapes.ReviewSerializer)

    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(shapes.ReviewSerializer(optimized, many=True).data)

    assert data == expected
    # Reviews with their reviewers; addresses with their cities and countries, where the
    # view alone runs one more query per city for its country.
    assert len(captured) == 2
    assert len(naive) > len(captured)


@pytest.mark.skipif(django.VERSION < (5, 0), reason="GenericPrefetch is new in Django 5.0")
@pytest.mark.django_db
def test_a_generic_prefetch_of_the_views_keeps_its_querysets(world):
    """Nautobot's interface connections: ``GenericPrefetch("origin", [Interface.objects
    .select_related("device")])``. The plan's own prefetch of the generic key went before
    it, so Django skipped the view's and its join."""
    from django.contrib.contenttypes.models import ContentType
    from django.contrib.contenttypes.prefetch import GenericPrefetch

    from tests.testapp.models import Comment

    class OnBookSerializer(serializers.ModelSerializer):
        target = shapes.BookTitleSerializer(source="content_object")

        class Meta:
            model = Comment
            fields = ["id", "target"]

    books = ContentType.objects.get_for_model(Book)

    def queryset():
        return (
            Comment.objects.filter(content_type=books)
            .prefetch_related(
                GenericPrefetch("content_object", [Book.objects.select_related("category")])
            )
            .order_by("id")
        )

    with CaptureQueriesContext(connection) as naive:
        expected = json.dumps(OnBookSerializer(queryset(), many=True).data)
    optimized = optimize(queryset(), OnBookSerializer)
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(OnBookSerializer(optimized, many=True).data)

    assert data == expected
    assert len(captured) == len(naive) == 2  # comments; books with their categories
