"""Strict mode: a query run while an optimized response is serialized is an error."""

from __future__ import annotations

import pickle

import django
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import (
    AutoPrefetchMixin,
    UnplannedQueryError,
    auto_prefetch,
    optimize,
    plan_for,
    strict,
)
from drf_autoprefetch import decorators as decorators_module
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Review

# These tests are about how fields the planner cannot see through are reported: they
# plan without inference, which would see through the test app's simple methods.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_inference")]

STRICT = override_settings(DRF_AUTOPREFETCH={"STRICT": True, "INFER": False})

REVIEW_COUNT_QUERY = (
    r"^BookUnhintedMethodSerializer\.review_count ran a query the prefetch plan did not "
    r"foresee: SELECT COUNT\(\*\) .*\. @hints\(prefetch_related=\[\"reviews\"\]\) on the code "
    r"behind this field would plan it; or turn strict mode off for this view with "
    r"autoprefetch_strict = False\.$"
)


# --- test-local serializers and views -------------------------------------------------


class ReviewerReviewCountSerializer(serializers.ModelSerializer):
    reviewer_reviews = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "reviewer_reviews"]

    def get_reviewer_reviews(self, obj):
        return Review.objects.filter(reviewer_id=obj.reviewer_id).count()


class BookNestedUnplannedSerializer(serializers.ModelSerializer):
    """The unplanned query runs two levels down, below a to-many."""

    reviews = ReviewerReviewCountSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "reviews"]


class BookCategoryNameSerializer(serializers.ModelSerializer):
    """Reads a forward foreign key the planner cannot see."""

    category_name = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "category_name"]

    def get_category_name(self, obj):
        return obj.category.name


class BookChaptersEditSerializer(serializers.ModelSerializer):
    chapters = shapes.ChapterSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "chapters"]


class BookViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    queryset = Book.objects.all()
    serializer_class = shapes.BookReviewsSerializer

    @action(detail=True, methods=["post"])
    def retitle(self, request, pk=None):
        book = self.get_object()
        book.title = request.data["title"]
        book.save()
        return Response(self.get_serializer(book).data)


class UnhintedBookViewSet(BookViewSet):
    serializer_class = shapes.BookUnhintedMethodSerializer


class PagedBookViewSet(BookViewSet):
    class Pagination(PageNumberPagination):
        page_size = 2

    pagination_class = Pagination


def call(viewset, actions, method="get", path="/books/", data=None, **kwargs):
    factory = APIRequestFactory()
    request = getattr(factory, method)(path, data, format="json")
    return viewset.as_view(actions)(request, **kwargs)


def unoptimized(serializer_class, queryset):
    return serializer_class(list(queryset), many=True).data


@pytest.fixture
def decorated():
    """Decorate a serializer class for one test, leaving the registry as it was."""
    made = []

    def decorate(base):
        made.append(auto_prefetch(validate=False)(type(f"Strict{base.__name__}", (base,), {})))
        return made[-1]

    yield decorate
    for serializer_class in made:
        decorators_module._registry.remove(serializer_class)


# --- raising ------------------------------------------------------------------------


@STRICT
def test_unplanned_query_in_a_list_names_the_field_and_the_sql(world):
    with pytest.raises(UnplannedQueryError, match=REVIEW_COUNT_QUERY):
        call(UnhintedBookViewSet, {"get": "list"})


@STRICT
def test_unplanned_query_in_a_detail_names_the_field(world):
    book = world.books[0]
    with pytest.raises(UnplannedQueryError, match=REVIEW_COUNT_QUERY):
        call(UnhintedBookViewSet, {"get": "retrieve"}, path=f"/books/{book.pk}/", pk=book.pk)


@STRICT
def test_unplanned_query_below_a_to_many_names_the_nested_path(world):
    class View(BookViewSet):
        serializer_class = BookNestedUnplannedSerializer

    with pytest.raises(
        UnplannedQueryError,
        match=r"^BookNestedUnplannedSerializer\.reviews\.reviewer_reviews ran a query ",
    ):
        call(View, {"get": "list"})


@STRICT
def test_unplanned_lazy_foreign_key_is_refused(world):
    class View(BookViewSet):
        serializer_class = BookCategoryNameSerializer

    with pytest.raises(UnplannedQueryError, match=r"^BookCategoryNameSerializer\.category_name "):
        call(View, {"get": "list"})


class BookOtherDatabaseSerializer(serializers.ModelSerializer):
    mirrored = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "mirrored"]

    def get_mirrored(self, obj):
        return Book.objects.using("other").filter(isbn=obj.isbn).exists()


@pytest.mark.django_db(databases=["default", "other"])
@STRICT
def test_unplanned_query_on_another_database_is_refused(world):
    class View(BookViewSet):
        serializer_class = BookOtherDatabaseSerializer

    with pytest.raises(UnplannedQueryError, match=r"^BookOtherDatabaseSerializer\.mirrored "):
        call(View, {"get": "list"})


@STRICT
def test_queries_run_again_after_an_unplanned_query(world):
    with pytest.raises(UnplannedQueryError):
        call(UnhintedBookViewSet, {"get": "list"})
    assert Book.objects.count() == len(world.books)


# --- not raising --------------------------------------------------------------------


@STRICT
def test_planned_list_renders_the_same_data_in_the_predicted_queries(world):
    plan = plan_for(shapes.BookReviewsSerializer)
    expected = unoptimized(shapes.BookReviewsSerializer, Book.objects.all())
    with CaptureQueriesContext(connection) as captured:
        response = call(BookViewSet, {"get": "list"})
    assert response.status_code == 200
    assert response.data == expected
    assert len(captured) == plan.query_count == 2


@STRICT
def test_planned_paginated_list_counts_outside_serialization(world):
    expected = unoptimized(shapes.BookReviewsSerializer, Book.objects.all()[:2])
    with CaptureQueriesContext(connection) as captured:
        response = call(PagedBookViewSet, {"get": "list"})
    assert response.data["results"] == expected
    assert len(captured) == 3  # count, page, reviews


@STRICT
def test_planned_detail_renders_without_queries_after_the_row(world):
    book = world.books[1]
    expected = shapes.BookReviewsSerializer(book).data
    with CaptureQueriesContext(connection) as captured:
        response = call(BookViewSet, {"get": "retrieve"}, path=f"/books/{book.pk}/", pk=book.pk)
    assert response.data == expected
    assert len(captured) == 2


@STRICT
def test_save_in_a_strict_view_is_allowed(world):
    book = world.books[0]
    response = call(
        BookViewSet,
        {"post": "retitle"},
        method="post",
        path=f"/books/{book.pk}/retitle/",
        data={"title": "Renamed"},
        pk=book.pk,
    )
    assert response.status_code == 200
    assert response.data["title"] == "Renamed"
    book.refresh_from_db()
    assert book.title == "Renamed"


@STRICT
def test_update_renders_without_strict_mode(world):
    class View(BookViewSet):
        serializer_class = BookChaptersEditSerializer

    book = world.books[2]
    response = call(
        View,
        {"patch": "partial_update"},
        method="patch",
        path=f"/books/{book.pk}/",
        data={"title": "Patched"},
        pk=book.pk,
    )
    assert response.status_code == 200
    assert response.data["title"] == "Patched"
    assert len(response.data["chapters"]) == 2


@STRICT
def test_create_renders_without_strict_mode(world):
    class View(BookViewSet):
        serializer_class = BookChaptersEditSerializer

    class Serializer(BookChaptersEditSerializer):
        class Meta(BookChaptersEditSerializer.Meta):
            fields = ["id", "title", "isbn", "category", "chapters"]

    View.serializer_class = Serializer
    data = {"title": "New", "isbn": "x-1", "category": world.categories[0].pk}
    response = call(View, {"post": "create"}, method="post", data=data)
    assert response.status_code == 201
    assert response.data["chapters"] == []


def test_strict_mode_is_off_by_default(world):
    response = call(UnhintedBookViewSet, {"get": "list"})
    assert response.status_code == 200


@STRICT
def test_view_attribute_false_overrides_the_setting(world):
    class View(UnhintedBookViewSet):
        autoprefetch_strict = False

    response = call(View, {"get": "list"})
    assert [row["review_count"] for row in response.data] == [
        row["review_count"] for row in unoptimized(View.serializer_class, Book.objects.all())
    ]


def test_view_attribute_true_without_the_setting(world):
    class View(UnhintedBookViewSet):
        autoprefetch_strict = True

    with pytest.raises(UnplannedQueryError, match=REVIEW_COUNT_QUERY):
        call(View, {"get": "list"})


@STRICT
def test_view_without_autoprefetch_is_never_strict(world):
    class View(UnhintedBookViewSet):
        autoprefetch = False

    assert call(View, {"get": "list"}).status_code == 200


# --- the decorator ------------------------------------------------------------------


@STRICT
def test_decorated_serializer_given_a_queryset_serializes_strictly(world, decorated):
    serializer_class = decorated(shapes.BookUnhintedMethodSerializer)
    serializer = serializer_class(Book.objects.all(), many=True)
    with pytest.raises(
        UnplannedQueryError,
        match=r"^StrictBookUnhintedMethodSerializer\.review_count ran a query ",
    ):
        serializer.data  # noqa: B018


@STRICT
def test_decorated_planned_serializer_runs_the_plan_only(world, decorated):
    serializer_class = decorated(shapes.BookReviewsSerializer)
    expected = unoptimized(shapes.BookReviewsSerializer, Book.objects.all())
    with CaptureQueriesContext(connection) as captured:
        data = serializer_class(Book.objects.all(), many=True).data
    assert data == expected
    assert len(captured) == 2


@STRICT
def test_decorated_serializer_given_a_list_is_not_strict(world, decorated):
    serializer_class = decorated(shapes.BookUnhintedMethodSerializer)
    data = serializer_class(list(Book.objects.all()), many=True).data
    assert len(data) == len(world.books)


def test_decorated_serializer_without_the_setting_is_not_strict(world, decorated):
    serializer_class = decorated(shapes.BookUnhintedMethodSerializer)
    data = serializer_class(Book.objects.all(), many=True).data
    assert len(data) == len(world.books)


@STRICT
def test_strict_view_with_a_decorated_serializer_follows_the_view(world, decorated):
    class View(UnhintedBookViewSet):
        serializer_class = decorated(shapes.BookUnhintedMethodSerializer)
        autoprefetch_strict = False

    assert call(View, {"get": "list"}).status_code == 200


# --- the building blocks ------------------------------------------------------------


def test_enable_is_idempotent_and_disable_undoes_it(world):
    serializer = shapes.BookUnhintedMethodSerializer(Book.objects.all(), many=True)
    strict.enable(serializer)
    strict.enable(serializer)
    assert strict.is_enabled(serializer)
    strict.disable(serializer)
    assert not strict.is_enabled(serializer)
    assert len(serializer.data) == len(world.books)


def test_strict_rendering_of_a_manager_runs_its_query_first(world):
    serializer = shapes.BookChaptersSerializer(Book.objects, many=True)
    strict.enable(serializer)
    with pytest.raises(UnplannedQueryError, match=r"^BookChaptersSerializer\.chapters "):
        serializer.data  # noqa: B018


def test_fields_are_wrapped_on_the_instance_not_the_class(world):
    queryset = optimize(Book.objects.all(), shapes.BookReviewsSerializer)
    serializer = shapes.BookReviewsSerializer(queryset, many=True)
    strict.enable(serializer)
    serializer.data  # noqa: B018
    fresh = shapes.BookReviewsSerializer(Book.objects.all(), many=True)
    assert "get_attribute" not in vars(fresh.child.fields["reviews"])
    assert "get_attribute" in vars(serializer.child.fields["reviews"])


# --- fetch modes (Django >= 6.1) ----------------------------------------------------

needs_fetch_modes = pytest.mark.skipif(
    django.VERSION < (6, 1), reason="fetch modes arrived in Django 6.1"
)


@needs_fetch_modes
@STRICT
def test_lazy_foreign_key_is_refused_before_its_query(world):
    from django.core.exceptions import FieldFetchBlocked

    class View(BookViewSet):
        serializer_class = BookCategoryNameSerializer

    with pytest.raises(
        UnplannedQueryError,
        match=r"^BookCategoryNameSerializer\.category_name read Book\.category, which the "
        r"prefetch plan did not load\. Declare what it reads",
    ) as caught:
        call(View, {"get": "list"})
    assert isinstance(caught.value.__cause__, FieldFetchBlocked)


@needs_fetch_modes
def test_strict_fetch_mode_loads_lazily_outside_serialization(world):
    from django.db.models import FETCH_ONE

    books = list(strict.fetch_strictly(Book.objects.all()))
    assert books[0].category.name
    assert repr(books[0]._state.fetch_mode) == f"StrictFetch({FETCH_ONE!r})"
    copy = pickle.loads(pickle.dumps(books[1]))
    assert copy._state.fetch_mode.fallback is FETCH_ONE
    assert copy.category.name


@needs_fetch_modes
def test_strict_fetch_mode_keeps_peer_fetching(world):
    from django.db.models import FETCH_PEERS

    books = list(strict.fetch_strictly(Book.objects.fetch_mode(FETCH_PEERS)))
    with CaptureQueriesContext(connection) as captured:
        names = [book.category.name for book in books]
    assert all(names)
    assert len(captured) == 1


def test_fetch_strictly_is_a_no_op_before_django_6_1():
    queryset = Book.objects.all()
    if django.VERSION < (6, 1):
        assert strict.fetch_strictly(queryset) is queryset
    else:
        assert strict.fetch_strictly(strict.fetch_strictly(queryset)) is not queryset


class _InputSerializer(serializers.Serializer):
    note = serializers.CharField()


@pytest.mark.django_db
def test_mixin_leaves_actions_with_a_model_less_serializer_alone(world):
    class NoteViewSet(AutoPrefetchMixin, viewsets.GenericViewSet):
        queryset = Book.objects.all()
        serializer_class = _InputSerializer

    view = NoteViewSet()
    view.request = None
    view.format_kwarg = None
    view.kwargs = {}

    queryset = view.get_queryset()

    assert queryset.query.select_related is False
    assert queryset._prefetch_related_lookups == ()
