"""A field below a reverse foreign key's prefetch reading the parent row back
(``lines -> order.currency``): Django hands each prefetched row its parent instance, so
the plan joins nothing back; the parent rows load what is read."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from drf_autoprefetch import optimize, plan_for
from tests.testapp.models import Book, Category, Chapter, City, Restaurant, Visit


class ChapterOfBookSerializer(serializers.ModelSerializer):
    """As oscarapi's order lines render ``source="order.currency"``."""

    book_title = serializers.CharField(source="book.title")
    book_isbn = serializers.CharField(source="book.isbn")

    class Meta:
        model = Chapter
        fields = ["id", "number", "book_title", "book_isbn"]


class BookWithChaptersSerializer(serializers.ModelSerializer):
    chapters = ChapterOfBookSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "chapters"]


class CategoryBooksChaptersSerializer(serializers.ModelSerializer):
    books = BookWithChaptersSerializer(many=True)

    class Meta:
        model = Category
        fields = ["id", "name", "books"]


class ChapterWithCategorySerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="book.category.name")

    class Meta:
        model = Chapter
        fields = ["id", "category"]


class BookChapterCategoriesSerializer(serializers.ModelSerializer):
    chapters = ChapterWithCategorySerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "chapters"]


def rendered(serializer_class, rows):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(serializer_class(rows, many=True).data, sort_keys=True)
    return data, len(captured)


def test_the_plan_joins_nothing_back_to_the_parent():
    plan = plan_for(BookWithChaptersSerializer)

    assert str(plan) == "testapp.Book\n  prefetch chapters (testapp.Chapter)"
    assert plan.columns == ("id", "isbn", "title")


@pytest.mark.django_db
@pytest.mark.parametrize("prune", [False, True])
def test_the_parent_rows_serve_what_is_read_back(world, settings, prune):
    settings.DRF_AUTOPREFETCH = {"PRUNE_COLUMNS": prune}
    expected, _ = rendered(BookWithChaptersSerializer, list(Book.objects.all()))

    optimized = optimize(Book.objects.all(), BookWithChaptersSerializer)
    data, queries = rendered(BookWithChaptersSerializer, optimized)

    assert data == expected
    assert queries == 2
    for book in optimized:
        assert all(chapter.book is book for chapter in book.chapters.all())


@pytest.mark.django_db
def test_a_queryset_that_defers_what_is_read_back_loads_it(world):
    expected, _ = rendered(BookWithChaptersSerializer, list(Book.objects.all()))

    optimized = optimize(Book.objects.only("pk"), BookWithChaptersSerializer)

    assert rendered(BookWithChaptersSerializer, optimized) == (expected, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("serializer_class", "model", "printed"),
    [
        # Below a prefetch, the prefetched parents serve it.
        (
            CategoryBooksChaptersSerializer,
            Category,
            "testapp.Category\n  prefetch books (testapp.Book)\n"
            "    prefetch chapters (testapp.Chapter)",
        ),
        # A relation read beyond the parent is the parent's own: loaded onto it.
        (
            BookChapterCategoriesSerializer,
            Book,
            "testapp.Book\n  select category (testapp.Category)\n"
            "  prefetch chapters (testapp.Chapter)",
        ),
    ],
)
def test_what_is_read_beyond_the_parent_is_planned_on_the_parent(
    world, serializer_class, model, printed
):
    expected, _ = rendered(serializer_class, list(model.objects.all()))

    data, queries = rendered(serializer_class, optimize(model.objects.all(), serializer_class))

    assert str(plan_for(serializer_class)) == printed
    assert (data, queries) == (expected, printed.count("prefetch") + 1)


@pytest.mark.django_db
def test_rows_in_hand_get_their_parents_too(world):
    expected, _ = rendered(BookWithChaptersSerializer, list(Book.objects.all()))
    rows = list(Book.objects.all())

    optimize(rows, BookWithChaptersSerializer)

    assert rendered(BookWithChaptersSerializer, rows) == (expected, 0)


def test_a_split_declared_on_the_join_back_is_accepted_and_needs_no_query():
    class Declared(BookWithChaptersSerializer):
        autoprefetch_split = ("chapters__book",)

    assert str(plan_for(Declared)) == "testapp.Book\n  prefetch chapters (testapp.Chapter)"


class BookTitleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title"]


class SiblingSerializer(serializers.ModelSerializer):
    """As oscarapi's child products render ``images`` with ``source="parent.images"``."""

    parent_books = BookTitleSerializer(many=True, source="parent.books", read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent_books"]


class CategoryChildrenSerializer(serializers.ModelSerializer):
    books = BookTitleSerializer(many=True, read_only=True)
    children = SiblingSerializer(many=True, read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "books", "children"]


def test_a_to_many_relation_read_back_is_the_parents_own():
    plan = plan_for(CategoryChildrenSerializer)

    assert str(plan) == (
        "testapp.Category\n  prefetch books (testapp.Book)\n  prefetch children (testapp.Category)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "queryset",
    [
        lambda: Category.objects.all(),
        lambda: Category.objects.prefetch_related(
            Prefetch("books", queryset=Book.objects.order_by("-id"))
        ),
        lambda: Category.objects.prefetch_related("books", "children"),
    ],
    ids=["plain", "books-of-its-own-order", "prefetched"],
)
def test_rows_read_back_through_the_parent_are_the_parents_rows(world, queryset):
    expected, _ = rendered(CategoryChildrenSerializer, queryset())

    data, queries = rendered(
        CategoryChildrenSerializer, optimize(queryset(), CategoryChildrenSerializer)
    )

    assert data == expected
    assert queries == 3  # categories, their books, their children; before: their books again


class VisitSerializer(serializers.ModelSerializer):
    place_name = serializers.CharField(source="place.name")
    place_kind = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = ["id", "note", "place_name", "place_kind"]

    def get_place_kind(self, visit):
        return type(visit.place).__name__


class RestaurantVisitsSerializer(serializers.ModelSerializer):
    visits = VisitSerializer(many=True)

    class Meta:
        model = Restaurant
        fields = ["id", "name", "visits"]


@pytest.mark.django_db
def test_a_key_to_the_parent_model_of_the_rows_is_served_by_them(world):
    """Rows prefetched for restaurants hold the restaurant itself as their ``place`` (a
    key to ``Place``, its parent model), as without the plan: no join builds a bare
    ``Place`` in its stead (pulp's signatures, whose key's ``cast()`` then ran a query)."""
    city = City.objects.first()
    for n in range(2):
        restaurant = Restaurant.objects.create(name=f"Trattoria {n}", city=city)
        Visit.objects.bulk_create(Visit(place=restaurant, note=f"visit {k}") for k in range(3))
    expected = json.dumps(RestaurantVisitsSerializer(Restaurant.objects.all(), many=True).data)

    plan = plan_for(RestaurantVisitsSerializer)
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(
            RestaurantVisitsSerializer(
                optimize(Restaurant.objects.all(), RestaurantVisitsSerializer), many=True
            ).data
        )

    assert data == expected
    assert '"place_kind": "Restaurant"' in data
    assert str(plan) == "testapp.Restaurant\n  prefetch visits (testapp.Visit)"
    assert len(captured) == plan.query_count == 2
