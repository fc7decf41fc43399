"""``assert_optimized``: the helper for users' own test suites."""

from __future__ import annotations

import ast
import inspect
import re

import pytest
from django.db.models import Prefetch
from django.test import override_settings
from rest_framework import serializers

from drf_autoprefetch import auto_prefetch, hints, plan_for, testing
from drf_autoprefetch import decorators as decorators_module
from drf_autoprefetch.testing import assert_optimized
from tests.testapp import serializers as shapes
from tests.testapp.models import (
    Book,
    Category,
    Club,
    Comment,
    Country,
    Person,
    Review,
)

# These tests are about how fields the planner cannot see through are reported: they
# plan without inference, which would see through the test app's simple methods.
pytestmark = [
    pytest.mark.django_db(databases=["default", "other"]),
    pytest.mark.usefixtures("no_inference"),
]


class BookAllReviewsSerializer(serializers.ModelSerializer):
    """Its hint loads soft-deleted reviews too: the optimized data differ."""

    review_bodies = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "review_bodies"]

    @hints(
        prefetch_related=[
            Prefetch("reviews", queryset=Review.all_objects.order_by("id"), to_attr="every_review")
        ]
    )
    def get_review_bodies(self, obj):
        reviews = getattr(obj, "every_review", None)
        if reviews is None:
            reviews = obj.reviews.order_by("id")
        return [review.body for review in reviews]


# --- passing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serializer_class", "model"),
    [
        (shapes.BookReviewsSerializer, Book),
        (shapes.BookAuthorsSerializer, Book),
        (shapes.CountryTreeSerializer, Country),
        (shapes.CategoryBooksSerializer, Category),
        (shapes.PersonWithPassportSerializer, Person),
        (shapes.ClubMembershipsSerializer, Club),
        (shapes.BookHintedPrefetchObjectMethodSerializer, Book),
        (shapes.BookHintedAnnotationMethodSerializer, Book),
    ],
)
def test_planned_serializer_passes_and_returns_the_query_count(serializer_class, model, world):
    count = assert_optimized(serializer_class, model.objects.all())
    assert count == plan_for(serializer_class).query_count


def test_generic_foreign_key_counts_one_query_per_content_type(world):
    # Comments point at books and at clubs: two queries for the targets.
    count = assert_optimized(shapes.CommentWithTargetSerializer, Comment.objects.all())
    assert count == plan_for(shapes.CommentWithTargetSerializer).query_count + 1 == 3


def test_context_reaches_both_renderings(world, serializer_context):
    serializer_class = shapes.CityHyperlinkedByPkSerializer
    count = assert_optimized(
        serializer_class, serializer_class.Meta.model.objects.all(), context=serializer_context
    )
    assert count == 1


def test_level_empty_for_every_row_runs_no_query(world):
    # The last country has no cities: the address and resident prefetches never run.
    empty_country = world.countries[-1]
    count = assert_optimized(
        shapes.CountryTreeSerializer, Country.objects.filter(pk=empty_country.pk)
    )
    assert count == 2 < plan_for(shapes.CountryTreeSerializer).query_count


def test_empty_result_runs_the_root_query_only(world):
    assert assert_optimized(shapes.BookReviewsSerializer, Book.objects.filter(pk=-1)) == 1
    assert assert_optimized(shapes.BookReviewsSerializer, Book.objects.none()) == 0


def test_sliced_queryset(world):
    assert assert_optimized(shapes.BookReviewsSerializer, Book.objects.all()[:3]) == 2


def test_counts_queries_on_the_queryset_database(make_world):
    make_world(2, using="other")
    queryset = Book.objects.using("other")
    assert assert_optimized(shapes.BookReviewsSerializer, queryset) == 2


# --- failing ------------------------------------------------------------------------


def test_query_per_row_fails_with_counts_and_sql(world):
    with pytest.raises(AssertionError) as caught:
        assert_optimized(shapes.BookUnhintedMethodSerializer, Book.objects.all())
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[:3] == [
        "BookUnhintedMethodSerializer is not rendered optimized:",
        "- The optimized rendering of 4 rows ran 5 queries; the plan predicts 1.",
        "- The query count grows with the number of rows: 5 queries for 4 rows "
        "(the plan predicts 1), 3 for the first 2 (the plan predicts 1).",
    ]
    assert lines[3] == "Queries of the optimized rendering (5):"
    assert re.fullmatch(r"  1\. SELECT .*book.*", lines[4])
    assert all(re.fullmatch(rf"  {n}\. SELECT COUNT\(\*\) .*", lines[3 + n]) for n in (2, 3, 4, 5))
    assert lines[9] == "Queries the plan did not foresee, by the field that ran them:"
    assert re.fullmatch(
        r"  BookUnhintedMethodSerializer\.review_count \(4x\): SELECT COUNT\(\*\) .*", lines[10]
    )
    assert lines[11] == (
        '    add @hints(prefetch_related=["reviews"]) to the code behind '
        "BookUnhintedMethodSerializer.review_count"
    )
    assert lines[12] == "The plan's warnings:"
    assert lines[13].startswith("  ! BookUnhintedMethodSerializer.review_count: method field ")
    assert len(lines) == 14


def test_changed_data_fails_with_a_diff(world):
    with pytest.raises(AssertionError) as caught:
        assert_optimized(BookAllReviewsSerializer, Book.objects.all())
    message = str(caught.value)
    assert message.startswith(
        "BookAllReviewsSerializer is not rendered optimized:\n- The data differ:\n"
        "--- as given\n+++ optimized\n"
    )
    assert re.search(r'^\+ +"Review 0 \(deleted\)",?$', message, re.MULTILINE)
    assert "the plan predicts" not in message  # the count itself is right


def test_long_diff_is_cut(make_world):
    make_world(6)
    with pytest.raises(AssertionError) as caught:
        assert_optimized(BookAllReviewsSerializer, Book.objects.all())
    diff = str(caught.value).split("- The data differ:\n", 1)[1].split("\nQueries of", 1)[0]
    lines = diff.splitlines()
    assert len(lines) == testing.MAX_DIFF_LINES + 1
    assert re.fullmatch(r"\.\.\. \(\d+ more lines\)", lines[-1])


@override_settings(DRF_AUTOPREFETCH={"STRICT": True, "INFER": False})
def test_strict_setting_does_not_hide_the_report(world):
    serializer_class = auto_prefetch(validate=False)(
        type("DecoratedUnhinted", (shapes.BookUnhintedMethodSerializer,), {})
    )
    try:
        with pytest.raises(AssertionError) as caught:
            assert_optimized(serializer_class, Book.objects.all())
    finally:
        decorators_module._registry.remove(serializer_class)
    assert type(caught.value) is AssertionError
    assert "ran 5 queries; the plan predicts 1" in str(caught.value)


def test_module_does_not_import_pytest():
    tree = ast.parse(inspect.getsource(testing))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert "pytest" not in imported


# --- assert_endpoint_optimized --------------------------------------------------


def _books(n):
    from model_bakery import baker

    from tests.testapp.models import Book, Person

    authors = baker.make(Person, _quantity=2)
    for book in baker.make(Book, _quantity=n):
        book.authors.set(authors)


@pytest.mark.django_db
def test_endpoint_helper_passes_and_returns_the_query_count(client):
    assert testing.assert_endpoint_optimized(client, "/api/books/", _books) == 2


@pytest.mark.django_db
def test_endpoint_helper_names_the_field_of_each_unplanned_query(client, monkeypatch):
    from tests import views

    class Counting(serializers.ModelSerializer):
        review_count = serializers.SerializerMethodField()

        class Meta:
            model = views.Book
            fields = ["id", "review_count"]

        def get_review_count(self, book):
            return book.reviews.filter(rating__gte=3).count()

    monkeypatch.setattr(views.BookViewSet, "get_serializer_class", lambda self: Counting)

    with pytest.raises(AssertionError) as excinfo:
        testing.assert_endpoint_optimized(client, "/api/books/", _books, sizes=(1, 3))

    message = str(excinfo.value)
    assert message.startswith(
        "GET /api/books/ with 1 rows ran 1 queries no plan foresees:\n"
        '- Counting.review_count; @hints(prefetch_related=["reviews"]) would plan it\n'
        "GET /api/books/ with 3 rows ran 3 queries no plan foresees:\n"
    )
    assert "Plans: tests.views.BookViewSet list -> " in message


@pytest.mark.django_db
def test_endpoint_helper_says_when_no_plan_is_applied(client):
    with pytest.raises(AssertionError) as excinfo:
        testing.assert_endpoint_optimized(client, "/api/ping/", _books)

    assert str(excinfo.value).splitlines()[0] == (
        "GET /api/ping/ applied no plan: does its view list AutoPrefetchMixin first (or "
        "its serializer use @auto_prefetch)?"
    )


def test_endpoint_helper_refuses_sizes_that_do_not_grow(client):
    with pytest.raises(ValueError, match=r"^sizes must be two growing row counts, not \(3, 3\)\.$"):
        testing.assert_endpoint_optimized(client, "/api/books/", _books, sizes=(3, 3))


class Failing(serializers.ModelSerializer):
    broken = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "broken"]

    def get_broken(self, book):
        raise KeyError("no such thing")


def test_a_serializer_failing_without_the_library_is_said_to_fail(world):
    with pytest.raises(AssertionError) as excinfo:
        assert_optimized(Failing, Book.objects.all())

    assert str(excinfo.value) == (
        "Failing fails to render the queryset as given, without drf_autoprefetch: KeyError: "
        "'no such thing'. Fix the serializer (or the queryset, or the context it needs) first."
    )
