"""``AutoPrefetchMixin``: per-action plans, filters, pagination, detail views and writes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from rest_framework import filters, generics, pagination, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin, plan_for
from tests import mixin_order
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Chapter, Review

pytestmark = pytest.mark.django_db


# --- test-local serializers -----------------------------------------------------------


class BookDetailSerializer(serializers.ModelSerializer):
    """One join and three prefetches: four queries."""

    category = shapes.CategoryParentSerializer()
    chapters = shapes.ChapterSerializer(many=True)
    labels = shapes.LabelSerializer(many=True)
    reviews = shapes.ReviewSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category", "chapters", "labels", "reviews"]


class BookEditSerializer(serializers.ModelSerializer):
    """Writable columns and category; read-only nested authors and reviews."""

    authors = shapes.PersonWithAddressSerializer(many=True, read_only=True)
    reviews = shapes.ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "isbn", "category", "authors", "reviews"]


class BookChaptersEditSerializer(serializers.ModelSerializer):
    chapters = shapes.ChapterSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "chapters"]


class BookReviewTotalSerializer(serializers.ModelSerializer):
    """``review_total`` is an annotation of the view's queryset, not a model attribute."""

    review_total = serializers.IntegerField(read_only=True)
    reviews = shapes.ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "review_total", "reviews"]


class BookChapterTitlesSerializer(serializers.ModelSerializer):
    """Reads chapters in a method field the planner cannot see through."""

    chapter_titles = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "chapter_titles"]

    def get_chapter_titles(self, obj):
        return [chapter.title for chapter in obj.chapters.all()]


# --- test-local views -----------------------------------------------------------------


class BookViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    """A serializer per action: list, retrieve, and two extra actions."""

    queryset = Book.objects.all()
    serializer_class = shapes.BookTitleSerializer

    def get_serializer_class(self):
        if self.action == "list":
            return shapes.BookWithAuthorsSerializer
        if self.action == "retrieve":
            return BookDetailSerializer
        return super().get_serializer_class()

    @action(detail=False)
    def titles(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        return Response(self.get_serializer(queryset, many=True).data)

    @action(detail=True, serializer_class=shapes.BookReviewsSerializer)
    def reviews(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)


class EditedFilter(filters.BaseFilterBackend):
    """``?edited=1`` keeps the books that have an editor."""

    def filter_queryset(self, request, queryset, view):
        if request.query_params.get("edited"):
            return queryset.filter(editor__isnull=False)
        return queryset


class FilteredBookViewSet(BookViewSet):
    filter_backends = [EditedFilter, filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["title", "authors__name"]
    ordering_fields = ["title", "isbn"]


class PageNumberBookViewSet(FilteredBookViewSet):
    class pagination_class(pagination.PageNumberPagination):
        page_size = 2


class LimitOffsetBookViewSet(FilteredBookViewSet):
    pagination_class = pagination.LimitOffsetPagination


class CursorBookViewSet(FilteredBookViewSet):
    class pagination_class(pagination.CursorPagination):
        page_size = 2
        ordering = "isbn"


class EditBookViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookEditSerializer


class ChaptersEditViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookChaptersEditSerializer


def plain(viewset):
    """The same view, opted out."""
    return type(f"Plain{viewset.__name__}", (viewset,), {"autoprefetch": False})


def call(viewset, action_name, *, method="get", path="/books/", data=None, **kwargs):
    """Route one request to ``action_name`` as a router would, extra actions included."""
    extra = {each.__name__: each for each in viewset.get_extra_actions()}
    initkwargs = extra[action_name].kwargs if action_name in extra else {}
    factory = APIRequestFactory()
    if method == "get":
        request = factory.get(path, data)
    else:
        request = getattr(factory, method)(path, data, format="json")
    response = viewset.as_view({method: action_name}, **initkwargs)(request, **kwargs)
    assert response.status_code < 400, response.data
    return response


def detail(book, suffix=""):
    return {"path": f"/books/{book.pk}/{suffix}", "pk": book.pk}


def ids(queryset):
    return list(queryset.values_list("pk", flat=True))


def view_for(viewset, action_name):
    """A view instance set up for ``action_name``, as ``as_view()`` would set it up."""
    extra = {each.__name__: each for each in viewset.get_extra_actions()}
    view = viewset(**(extra[action_name].kwargs if action_name in extra else {}))
    view.action = action_name
    view.request = None
    view.format_kwarg = None
    view.kwargs = {}
    return view


# --- a plan per action ----------------------------------------------------------------

PER_ACTION = {
    "list": (shapes.BookWithAuthorsSerializer, None, 2),
    "retrieve": (BookDetailSerializer, "", 4),
    "titles": (shapes.BookTitleSerializer, None, 1),
    "reviews": (shapes.BookReviewsSerializer, "reviews/", 2),
}


@pytest.mark.parametrize("action_name", PER_ACTION)
def test_each_action_gets_the_plan_of_its_own_serializer(action_name):
    serializer_class, _, queries = PER_ACTION[action_name]
    view = view_for(BookViewSet, action_name)

    assert view.get_serializer_class() is serializer_class
    assert view.get_prefetch_plan() == plan_for(serializer_class)
    assert plan_for(serializer_class).query_count == queries


@pytest.mark.parametrize("action_name", PER_ACTION)
def test_each_action_runs_its_own_plans_queries(world, django_assert_num_queries, action_name):
    _, suffix, queries = PER_ACTION[action_name]
    book = world.books[0]  # two authors, two visible reviews, no chapter
    kwargs = {} if suffix is None else detail(book, suffix)
    expected = call(plain(BookViewSet), action_name, **kwargs).data

    with django_assert_num_queries(queries):
        response = call(BookViewSet, action_name, **kwargs)

    assert response.data == expected


def test_retrieve_reads_the_row_and_the_prefetches_through_get_object(
    world, django_assert_num_queries
):
    book = world.books[1]  # one chapter, two visible reviews, a soft-deleted label only
    expected = call(plain(BookViewSet), "retrieve", **detail(book)).data

    with django_assert_num_queries(4):  # book joined to its category, chapters, labels, reviews
        response = call(BookViewSet, "retrieve", **detail(book))

    assert response.data == expected
    assert [chapter["title"] for chapter in response.data["chapters"]] == ["Chapter 1"]
    assert response.data["labels"] == []
    assert len(response.data["reviews"]) == 2


# --- filter backends and ordering -----------------------------------------------------


FILTERS = {
    "ordering": ({"ordering": "-isbn"}, lambda: Book.objects.order_by("-isbn")),
    "search through a many-to-many": (
        {"search": "Person 008"},
        lambda: Book.objects.filter(authors__name="Person 008"),
    ),
    "custom backend": ({"edited": "1"}, lambda: Book.objects.filter(editor__isnull=False)),
    "all three": (
        {"edited": "1", "search": "Person 008", "ordering": "-isbn"},
        lambda: Book.objects.filter(editor__isnull=False, authors__name="Person 008").order_by(
            "-isbn"
        ),
    ),
}


@pytest.mark.parametrize("query", FILTERS.values(), ids=FILTERS.keys())
def test_filtered_list_equals_unoptimized_in_the_plans_queries(
    world, django_assert_num_queries, query
):
    params, rows = query
    expected = call(plain(FilteredBookViewSet), "list", data=params).data

    with django_assert_num_queries(2):  # books joined to their editor, authors
        response = call(FilteredBookViewSet, "list", data=params)

    assert response.data == expected
    assert [row["id"] for row in response.data] == ids(rows())


# --- pagination -----------------------------------------------------------------------

PAGINATIONS = {
    # viewset, query, queries, where the page starts
    "page number": (PageNumberBookViewSet, {"page": "2"}, 3, 2),
    "limit offset": (LimitOffsetBookViewSet, {"limit": "2", "offset": "1"}, 3, 1),
    "cursor": (CursorBookViewSet, {}, 2, 0),
}


@pytest.mark.parametrize("case", PAGINATIONS.values(), ids=PAGINATIONS.keys())
def test_paginated_list_counts_then_runs_the_plan_on_one_page(
    world, django_assert_num_queries, case
):
    viewset, params, queries, start = case
    expected = call(plain(viewset), "list", data=params).data

    with django_assert_num_queries(queries):  # COUNT (not for a cursor), books, authors
        response = call(viewset, "list", data=params)

    assert response.data == expected
    rows = Book.objects.order_by("isbn") if viewset is CursorBookViewSet else Book.objects.all()
    assert [row["id"] for row in response.data["results"]] == ids(rows)[start : start + 2]


@pytest.mark.parametrize("case", PAGINATIONS.values(), ids=PAGINATIONS.keys())
def test_paginated_filtered_ordered_list_equals_unoptimized(world, django_assert_num_queries, case):
    viewset, params, queries, start = case
    params = {**params, "search": "Person 008", "ordering": "-isbn"}
    expected = call(plain(viewset), "list", data=params).data

    with django_assert_num_queries(queries):
        response = call(viewset, "list", data=params)

    assert response.data == expected
    rows = Book.objects.filter(authors__name="Person 008").order_by("-isbn")
    assert [row["id"] for row in response.data["results"]] == ids(rows)[start : start + 2]


def test_cursor_pagination_next_page_runs_the_plan_without_a_count(
    world, django_assert_num_queries
):
    first = call(CursorBookViewSet, "list").data
    cursor = parse_qs(urlparse(first["next"]).query)["cursor"][0]
    expected = call(plain(CursorBookViewSet), "list", data={"cursor": cursor}).data

    with django_assert_num_queries(2):  # books, authors
        response = call(CursorBookViewSet, "list", data={"cursor": cursor})

    assert response.data == expected
    assert [row["id"] for row in first["results"] + response.data["results"]] == ids(
        Book.objects.order_by("isbn")
    )


# --- opting out and adjusting the plan ------------------------------------------------


def test_opted_out_view_adds_no_lookups_and_runs_a_query_per_row(world, django_assert_num_queries):
    class View(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.all()
        serializer_class = shapes.BookChaptersSerializer
        autoprefetch = False

    queryset = view_for(View, "list").get_queryset()
    assert queryset.query.select_related is False
    assert queryset._prefetch_related_lookups == ()

    expected = shapes.BookChaptersSerializer(Book.objects.all(), many=True).data
    with django_assert_num_queries(1 + len(world.books)):  # books, then chapters per book
        response = call(View, "list")
    assert response.data == expected


def test_overridden_plan_merges_another_serializers_plan(world, django_assert_num_queries):
    class View(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.all()
        serializer_class = BookChapterTitlesSerializer

        def get_prefetch_plan(self, queryset=None):
            return super().get_prefetch_plan(queryset) | plan_for(shapes.BookChaptersSerializer)

    assert view_for(View, "list").get_prefetch_plan() == plan_for(
        BookChapterTitlesSerializer
    ) | plan_for(shapes.BookChaptersSerializer)
    with django_assert_num_queries(1 + len(world.books)):
        expected = call(plain(View), "list").data

    with django_assert_num_queries(2):  # books, chapters
        response = call(View, "list")

    assert response.data == expected
    rows = {row["id"]: row for row in response.data}
    assert rows[world.books[2].pk]["chapter_titles"] == ["Chapter 2", "Chapter 1"]


def test_root_field_may_read_an_annotation_of_the_views_queryset(world, django_assert_num_queries):
    class View(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.annotate(review_total=Count("reviews")).order_by("title", "id")
        serializer_class = BookReviewTotalSerializer

    expected = call(plain(View), "list").data

    with django_assert_num_queries(2):  # annotated books, reviews
        response = call(View, "list")

    assert response.data == expected
    # Book 001 to Book 004; the soft-deleted review counts too.
    assert [row["review_total"] for row in response.data] == [3, 1, 3, 3]


def test_root_field_may_read_an_annotation_added_by_get_queryset(world, django_assert_num_queries):
    class View(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.all()
        serializer_class = BookReviewTotalSerializer

        def get_queryset(self):
            return super().get_queryset().annotate(review_total=Count("reviews"))

    book = world.books[0]
    expected = call(plain(View), "retrieve", **detail(book)).data

    with django_assert_num_queries(2):  # the annotated book, its reviews
        response = call(View, "retrieve", **detail(book))

    assert response.data == expected
    assert response.data["review_total"] == 3  # the soft-deleted review counts too


def test_get_queryset_override_without_super_is_optimized(world, django_assert_num_queries):
    class View(AutoPrefetchMixin, viewsets.ModelViewSet):
        serializer_class = shapes.BookWithAuthorsSerializer

        def get_queryset(self):
            return Book.objects.filter(editor__isnull=False)

    expected = call(plain(View), "list").data

    with django_assert_num_queries(2):  # books joined to their editor, authors
        response = call(View, "list")

    assert response.data == expected
    assert [row["id"] for row in response.data] == ids(Book.objects.filter(editor__isnull=False))


def test_get_queryset_overrides_calling_super_apply_the_plan_once_at_the_end(
    world, django_assert_num_queries
):
    class Base(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.all()
        serializer_class = BookReviewTotalSerializer

        def get_queryset(self):
            return super().get_queryset().filter(editor__isnull=False)

    class View(Base):
        def get_queryset(self):
            return super().get_queryset().annotate(review_total=Count("reviews"))

    queryset = view_for(View, "list").get_queryset()
    assert [lookup.prefetch_to for lookup in queryset._prefetch_related_lookups] == ["reviews"]
    expected = call(plain(View), "list").data

    with django_assert_num_queries(2):  # annotated books, reviews
        response = call(View, "list")

    assert response.data == expected
    assert sorted(row["review_total"] for row in response.data) == [1, 3]


def test_plan_without_the_queryset_leaves_a_read_only_root_field_naming_nothing_unoptimized():
    class View(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.annotate(review_total=Count("reviews"))
        serializer_class = BookReviewTotalSerializer

    plan = view_for(View, "list").get_prefetch_plan()

    assert plan.warnings == (
        "BookReviewTotalSerializer.review_total: source 'review_total' names nothing on "
        "testapp.Book; the field is left unoptimized (DRF renders its default, or leaves it "
        "out, where the attribute is missing). If it is a typo, fix the source. Did you mean "
        "'reviews'?",
    )
    assert plan == plan_for(BookReviewTotalSerializer)


# --- writes ---------------------------------------------------------------------------


def create_data(world, **extra):
    return {"title": "Fresh", "isbn": "979-000001", "category": world.categories[0].pk, **extra}


def test_create_renders_the_new_row_with_the_plan_loaded_onto_it(world, django_assert_num_queries):
    # isbn uniqueness, category, INSERT; then the authors and reviews (no second read of
    # the row), as many queries as DRF's lazy reads of one row.
    with django_assert_num_queries(5):
        response = call(EditBookViewSet, "create", method="post", data=create_data(world))

    assert response.status_code == 201
    book = Book.objects.get(isbn="979-000001")
    assert response.data == call(EditBookViewSet, "retrieve", **detail(book)).data
    assert response.data == call(plain(EditBookViewSet), "retrieve", **detail(book)).data
    assert response.data["title"] == "Fresh"


def test_a_write_rendering_an_annotation_of_the_views_queryset_renders_as_drf_does(
    world, django_assert_num_queries
):
    """Label Studio's projects: count fields the view's queryset annotates. Reading the
    saved row again through ``get_queryset()`` gave them values where DRF renders their
    default (and failed for a view with no ``queryset``): the saved instance is rendered."""

    class CountedSerializer(BookEditSerializer):
        review_total = serializers.IntegerField(read_only=True, default=None)

        class Meta(BookEditSerializer.Meta):
            fields = [*BookEditSerializer.Meta.fields, "review_total"]

    class View(EditBookViewSet):
        serializer_class = CountedSerializer

        def get_queryset(self):
            return super().get_queryset().annotate(review_total=Count("reviews"))

    data = create_data(world)
    with django_assert_num_queries(5):  # isbn uniqueness, category, INSERT; authors, reviews
        response = call(View, "create", method="post", data=data)
    Book.objects.filter(isbn=data["isbn"]).delete()
    expected = call(plain(View), "create", method="post", data=data).data

    assert response.data["review_total"] is None
    assert {**response.data, "id": None} == {**expected, "id": None}


def test_create_shows_rows_added_by_a_perform_create_override(world, django_assert_num_queries):
    reviewer = world.people[1]

    class View(EditBookViewSet):
        def perform_create(self, serializer):
            # No super(): the usual way to pass extra attributes to save().
            book = serializer.save(title="Overridden")
            Review.objects.create(book=book, reviewer=reviewer, rating=3, body="First")

    # isbn uniqueness, category, INSERT book, INSERT review; the authors, the reviews
    # with their reviewers joined.
    with django_assert_num_queries(6):
        response = call(View, "create", method="post", data=create_data(world))

    book = Book.objects.get(isbn="979-000001")
    assert response.data == call(plain(View), "retrieve", **detail(book)).data
    assert response.data["title"] == "Overridden"
    assert [review["body"] for review in response.data["reviews"]] == ["First"]
    assert (
        response.data["reviews"][0]["reviewer"] == shapes.PersonWithAddressSerializer(reviewer).data
    )


def test_create_of_a_row_the_views_queryset_hides_renders_the_saved_instance(
    world, django_assert_num_queries
):
    class View(EditBookViewSet):
        def get_queryset(self):
            return super().get_queryset().filter(editor__isnull=False)

    # isbn uniqueness, category, INSERT; then authors and reviews.
    with django_assert_num_queries(5):
        response = call(View, "create", method="post", data=create_data(world))

    assert response.status_code == 201
    book = Book.objects.get(isbn="979-000001")
    assert response.data == BookEditSerializer(book).data
    assert response.data["authors"] == response.data["reviews"] == []


def test_partial_update_renders_the_updated_row_and_its_current_relations(
    world, django_assert_num_queries
):
    book = world.books[0]  # two authors, two visible reviews

    # get_object (the book alone: DRF drops what was prefetched onto it once it is saved),
    # UPDATE, then the authors and reviews as they are now.
    with django_assert_num_queries(4):
        response = call(
            EditBookViewSet,
            "partial_update",
            method="patch",
            data={"title": "Patched"},
            **detail(book),
        )

    assert response.data == call(plain(EditBookViewSet), "retrieve", **detail(book)).data
    assert response.data["title"] == "Patched"
    assert len(response.data["authors"]) == 2
    assert len(response.data["reviews"]) == 2


def test_update_after_a_perform_update_override_shows_no_stale_prefetch(
    world, django_assert_num_queries
):
    class View(EditBookViewSet):
        def perform_update(self, serializer):
            super().perform_update(serializer)
            Review.objects.filter(book=serializer.instance, rating=4).update(deleted=True)

    book = world.books[0]
    data = {"title": "Put", "isbn": book.isbn, "category": book.category_id}

    # get_object, isbn uniqueness, category, UPDATE book, UPDATE reviews, authors, reviews.
    with django_assert_num_queries(7):
        response = call(View, "update", method="put", data=data, **detail(book))

    assert response.data == call(plain(View), "retrieve", **detail(book)).data
    assert response.data["title"] == "Put"
    assert response.data["reviews"] == []
    assert len(response.data["authors"]) == 2


@override_settings(DRF_AUTOPREFETCH={"STRICT": True})
def test_update_in_strict_mode_is_read_again_and_not_checked(world, django_assert_num_queries):
    book = world.books[0]

    with django_assert_num_queries(4):
        response = call(
            EditBookViewSet,
            "partial_update",
            method="patch",
            data={"title": "Strict"},
            **detail(book),
        )

    assert response.data == call(EditBookViewSet, "retrieve", **detail(book)).data
    assert response.data["title"] == "Strict"


def test_a_write_whose_plan_loads_nothing_renders_the_saved_row_as_drf_does(
    world, django_assert_num_queries
):
    class FlatBookSerializer(serializers.ModelSerializer):
        class Meta:
            model = Book
            fields = ["id", "title", "isbn", "category"]

    class View(EditBookViewSet):
        serializer_class = FlatBookSerializer

    book = world.books[0]
    for view in (plain(View), View):
        with django_assert_num_queries(2):  # get_object, UPDATE: no second read of the row
            response = call(
                view, "partial_update", method="patch", data={"title": "Flat"}, **detail(book)
            )
        assert response.data == {**FlatBookSerializer(book).data, "title": "Flat"}
    data = {"title": "New", "isbn": "978-0-00-000000-1", "category": book.category_id}
    with django_assert_num_queries(3):  # isbn uniqueness, category, INSERT
        response = call(View, "create", method="post", data=data)
    assert response.data == FlatBookSerializer(Book.objects.get(isbn=data["isbn"])).data


def test_opted_out_update_renders_the_saved_instance_lazily(world, django_assert_num_queries):
    book = world.books[2]  # two chapters

    with django_assert_num_queries(3):  # get_object, UPDATE, chapters
        response = call(
            plain(ChaptersEditViewSet),
            "partial_update",
            method="patch",
            data={"title": "Lazy"},
            **detail(book),
        )

    assert response.data == call(ChaptersEditViewSet, "retrieve", **detail(book)).data
    assert [chapter["number"] for chapter in response.data["chapters"]] == [2, 1]


def test_overridden_reload_can_keep_the_saved_instance(world, django_assert_num_queries):
    class View(ChaptersEditViewSet):
        def reload_saved_instance(self, instance):
            return instance

    book = world.books[2]

    # get_object (the book), UPDATE, chapters: as without the library.
    with django_assert_num_queries(3):
        response = call(
            View, "partial_update", method="patch", data={"title": "Kept"}, **detail(book)
        )

    assert response.data == call(View, "retrieve", **detail(book)).data
    assert response.data["title"] == "Kept"


# --- the mixin listed after the DRF view class -----------------------------------------


def test_mixin_listed_after_the_drf_view_class_applies_no_plan(world):
    """What ``drf_autoprefetch.E002`` reports: as many queries as with the mixin opted out."""
    view = mixin_order.LateAuthorList

    with CaptureQueriesContext(connection) as unoptimized:
        expected = plain(view).as_view()(APIRequestFactory().get("/late-authors/")).data
    with CaptureQueriesContext(connection) as captured:
        response = view.as_view()(APIRequestFactory().get("/late-authors/"))

    assert response.data == expected
    assert len(captured) == len(unoptimized) > plan_for(view.serializer_class).query_count


def test_own_get_queryset_applies_the_plan_with_the_mixin_listed_last(
    world, django_assert_num_queries
):
    expected = call(plain(mixin_order.LateOverrideViewSet), "list").data

    with django_assert_num_queries(2):  # books joined to their editor, authors
        response = call(mixin_order.LateOverrideViewSet, "list")

    assert response.data == expected


# --- deletes --------------------------------------------------------------------------


class BookDetail(AutoPrefetchMixin, generics.RetrieveUpdateDestroyAPIView):
    queryset = Book.objects.all()
    serializer_class = BookEditSerializer


# The book; then DELETEs of its author and label links, chapters, reviews, comments, itself.
DESTROY_QUERIES = 7


def selects(captured):
    return [query["sql"] for query in captured if query["sql"].startswith("SELECT")]


def test_destroy_deletes_the_row_without_running_the_plan(world, django_assert_num_queries):
    book = world.books[0]  # two authors, two visible reviews

    with django_assert_num_queries(DESTROY_QUERIES) as captured:
        response = call(EditBookViewSet, "destroy", method="delete", **detail(book))

    assert response.status_code == 204
    assert not Book.objects.filter(pk=book.pk).exists()
    assert len(selects(captured)) == 1


def test_delete_on_a_generic_view_deletes_the_row_without_running_the_plan(
    world, django_assert_num_queries
):
    book = world.books[0]
    request = APIRequestFactory().delete(f"/books/{book.pk}/")

    with django_assert_num_queries(DESTROY_QUERIES) as captured:
        response = BookDetail.as_view()(request, pk=book.pk)

    assert response.status_code == 204
    assert not Book.objects.filter(pk=book.pk).exists()
    assert len(selects(captured)) == 1


def test_delete_answered_by_an_overridden_destroy_that_renders_runs_the_plan(
    world, django_assert_num_queries
):
    class View(BookDetail):
        def destroy(self, request, *args, **kwargs):
            book = self.get_object()
            data = self.get_serializer(book).data
            book.delete()
            return Response(data)

    book = world.books[0]
    expected = BookEditSerializer(book).data
    request = APIRequestFactory().delete(f"/books/{book.pk}/")

    # get_object (book, authors, reviews); then the deletes.
    with django_assert_num_queries(DESTROY_QUERIES + 2):
        response = View.as_view()(request, pk=book.pk)

    assert response.data == expected
    assert not Book.objects.filter(pk=book.pk).exists()


def _first_doc(view_class):
    """The docstring drf-spectacular describes a view with: the first one up its bases."""
    return next((cls.__doc__ for cls in view_class.__mro__ if cls.__doc__), None)


def test_the_mixins_docstring_never_describes_a_view():
    class Undocumented(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
        queryset = Book.objects.all()

    class Documented(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
        """The books."""

    class Inheriting(Documented):
        pass

    assert _first_doc(Undocumented).strip() == ""
    assert _first_doc(Documented) == "The books."
    assert _first_doc(Inheriting) == "The books."
    assert Inheriting.__doc__ is None


def test_a_view_taking_the_mixin_keeps_the_description_of_its_documented_base():
    """pulp's views inherit their description from a base of the project's; the mixin
    put in front of that base must not hide it."""

    class NamedViewSet(viewsets.ReadOnlyModelViewSet):
        """Things of the inventory, by name."""

    class Optimized(AutoPrefetchMixin, NamedViewSet):
        queryset = Book.objects.all()

    assert _first_doc(Optimized) == "Things of the inventory, by name."


# ------------------------------- @actions rendering with a serializer of their own


class ChapterTitleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "title"]


class BookActionsViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """The view's serializer prefetches authors and joins their addresses; its actions
    render other things."""

    queryset = Book.objects.all()
    serializer_class = shapes.BookWithAuthorsSerializer

    @action(detail=True)
    def chapters(self, request, pk=None):
        book = self.get_object()
        return Response(ChapterTitleSerializer(book.chapters.all(), many=True).data)

    @action(detail=False)
    def titles(self, request):
        rows = self.filter_queryset(self.get_queryset())
        return Response(shapes.BookTitleSerializer(rows, many=True).data)

    @action(detail=True)
    def state(self, request, pk=None):
        return Response({"title": self.get_object().title})

    @state.mapping.post
    def state_checked(self, request, pk=None):
        """RDMO's ``resolve``: a handler mapped to an action for another method."""
        book = self.get_object()
        return Response({"title": book.title, "checked": bool(request.data)})

    @action(detail=True)
    def history(self, request, pk=None):
        book = self.get_object()
        context = self.get_serializer_context()
        return Response(
            ChapterTitleSerializer(book.chapters.all(), many=True, context=context).data
        )

    @action(detail=True)
    def through_a_helper(self, request, pk=None):
        return self._render(self.get_object())

    def _render(self, book):
        return Response(self.get_serializer(book).data)

    @action(detail=True)
    def download(self, request, pk=None):
        """Weblate's component file downloads: a helper of the view's renders no row."""
        return self._download(self.get_object().title)

    def _download(self, name):
        return self._as_file(f"contents of {name}")

    def _as_file(self, text):
        return Response({"file": text})

    @action(detail=True)
    def chapters_by_a_helper(self, request, pk=None):
        return self._chapters(self.get_object())

    def _chapters(self, book):
        return Response(ChapterTitleSerializer(book.chapters.all(), many=True).data)

    @action(detail=True, methods=["get", "post"])
    def chapters_or_rename(self, request, pk=None):
        """Weblate's links: the view's serializer only for a POST, through a helper."""
        book = self.get_object()
        if request.method == "POST":
            return self._renamed(book)
        return Response(ChapterTitleSerializer(book.chapters.all(), many=True).data)

    def _renamed(self, book):
        book.title = "Renamed"
        return Response(self.serializer_class(book).data)

    @action(detail=True)
    def filtered_chapters(self, request, pk=None):
        """Weblate's changes: rows of another model through a filter backend of its own."""
        book = self.get_object()
        rows = OrderingFilter().filter_queryset(request, book.chapters.all(), self)
        serializer_class = ChapterTitleSerializer  # a local name, not the view's
        return Response(serializer_class(rows, many=True).data)


@pytest.mark.parametrize(
    ("action_name", "is_detail", "expected_queries"),
    [
        ("chapters", True, 2),  # the book, its chapters: no plan of the view's serializer
        ("titles", False, 1),  # the titles serializer's plan: categories joined
        ("state", True, 1),
        ("history", True, 2),  # the view's context passed on: still its own serializer
        ("through_a_helper", True, 2),  # the view's serializer: its plan
        ("download", True, 1),  # helpers of the view's rendering no row: no plan
        ("chapters_by_a_helper", True, 2),  # a helper's serializer of other rows: no plan
        ("filtered_chapters", True, 2),  # the view handed to a filter backend: no plan
        ("chapters_or_rename", True, 2),  # a GET: the POST branch is not read
    ],
)
def test_an_action_gets_the_plan_of_the_serializer_it_renders_with(
    world, action_name, is_detail, expected_queries
):
    book = Book.objects.order_by("pk").first()
    where = detail(book, f"{action_name}/") if is_detail else {"path": f"/books/{action_name}/"}
    plain = type("Plain", (BookActionsViewSet,), {"autoprefetch": False})
    expected = call(plain, action_name, **where).data

    with CaptureQueriesContext(connection) as captured:
        response = call(BookActionsViewSet, action_name, **where)

    assert response.data == expected
    assert len(captured) == expected_queries


class BookRowsActionsViewSet(BookActionsViewSet):
    """A ``get_queryset()`` handing the rows over as a list."""

    def get_queryset(self):
        return list(Book.objects.order_by("pk"))

    @action(detail=False)
    def all_chapters(self, request):
        books = self.get_queryset()
        chapters = [chapter for book in books for chapter in book.chapters.all()]
        return Response(ChapterWithBookSerializer(chapters, many=True).data)


class ChapterWithBookSerializer(serializers.ModelSerializer):
    book = shapes.BookTitleSerializer()

    class Meta:
        model = Chapter
        fields = ["id", "title", "book"]


def test_a_handler_mapped_to_an_action_is_read_as_the_action(world):
    """RDMO's projects: ``@resolve.mapping.post`` renders no row, and reads the row
    without the plan of the view's serializer, as the action it is mapped to does."""
    book = Book.objects.order_by("pk").first()
    where = {**detail(book, "state/"), "method": "post", "data": {"answer": 1}}
    expected = call(plain(BookActionsViewSet), "state_checked", **where).data

    with CaptureQueriesContext(connection) as captured:
        response = call(BookActionsViewSet, "state_checked", **where)

    assert response.data == expected == {"title": book.title, "checked": True}
    assert len(captured) == 1


def test_an_action_rendering_other_rows_than_a_list_of_the_views_gets_no_plan(world):
    plain = type("Plain", (BookRowsActionsViewSet,), {"autoprefetch": False})
    where = {"path": "/books/all_chapters/"}
    with CaptureQueriesContext(connection) as unoptimized:
        expected = call(plain, "all_chapters", **where).data

    with CaptureQueriesContext(connection) as captured:
        response = call(BookRowsActionsViewSet, "all_chapters", **where)

    assert response.data == expected
    assert len(captured) == len(unoptimized)


def test_a_failure_loading_the_plan_onto_a_saved_row_renders_it_as_drf_does(world, monkeypatch):
    from drf_autoprefetch import mixins

    def broken(rows, plan, using=None):
        raise RuntimeError("broken prefetch")

    monkeypatch.setattr(mixins, "prefetch_onto", broken)
    book = world.books[0]

    response = call(
        EditBookViewSet, "partial_update", method="patch", data={"title": "Lazy"}, **detail(book)
    )

    assert response.data == call(plain(EditBookViewSet), "retrieve", **detail(book)).data


def test_an_update_override_handing_over_to_drfs_reads_the_row_without_the_plan(
    world, django_assert_num_queries
):
    """Weblate's views check a permission of their own in ``update()``, then call
    ``super().update()``: the row read before the save takes no plan there either."""

    class Checked(EditBookViewSet):
        def update(self, request, *args, **kwargs):
            self.get_object()  # a permission check of the view's
            return super().update(request, *args, **kwargs)

    @method_decorator(name="update", decorator=never_cache)
    class Decorated(EditBookViewSet):
        """Label Studio's labels: DRF's update() under a decorator of the schema's."""

    class Replaced(EditBookViewSet):
        def update(self, request, *args, **kwargs):
            book = self.get_object()
            return Response(self.get_serializer(book).data)

    book = world.books[0]
    # get_object twice (the book alone), UPDATE, then the authors and reviews.
    with django_assert_num_queries(5):
        response = call(
            Checked, "partial_update", method="patch", data={"title": "Checked"}, **detail(book)
        )
    assert response.data == call(plain(Checked), "retrieve", **detail(book)).data
    # get_object (the book alone), UPDATE, then the authors and reviews.
    with django_assert_num_queries(4):
        call(Decorated, "partial_update", method="patch", data={"title": "D"}, **detail(book))
    # An update of its own: its get_object() renders the row, with the plan.
    with django_assert_num_queries(3):
        call(Replaced, "partial_update", method="patch", data={"title": "x"}, **detail(book))


def test_the_branch_of_another_method_decides_that_methods_plan(world):
    """A POST to the same action renders the view's serializer: its plan applies."""
    book = Book.objects.order_by("pk").first()
    where = detail(book, "chapters_or_rename/")
    plain_view = type("Plain", (BookActionsViewSet,), {"autoprefetch": False})
    expected = call(plain_view, "chapters_or_rename", method="post", **where).data

    with CaptureQueriesContext(connection) as captured:
        response = call(BookActionsViewSet, "chapters_or_rename", method="post", **where)

    assert response.data == expected
    assert len(captured) == plan_for(shapes.BookWithAuthorsSerializer).query_count


def test_a_create_view_with_no_queryset_renders_the_saved_row(world):
    """Label Studio's task list creates rows from a view with neither ``queryset`` nor
    ``get_queryset()`` (DRF's ``create()`` needs none): the write renders, the plan loaded
    onto the saved row, where reading it again through ``get_queryset()`` failed."""

    class WithTotalSerializer(BookEditSerializer):
        review_total = serializers.IntegerField(read_only=True, default=None)

        class Meta(BookEditSerializer.Meta):
            fields = [*BookEditSerializer.Meta.fields, "review_total"]

    class Create(AutoPrefetchMixin, generics.CreateAPIView):
        serializer_class = WithTotalSerializer

    request = APIRequestFactory().post("/books/", create_data(world), format="json")
    response = Create.as_view()(request)

    assert response.status_code == 201
    book = Book.objects.get(isbn="979-000001")
    assert response.data == WithTotalSerializer(book).data


class ProjectPagesViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """RDMO's project pages: the context needs what ``initial()`` sets per request."""

    queryset = Book.objects.all()
    serializer_class = shapes.BookWithAuthorsSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project = Book.objects.first()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "catalog": self.project.title}


def _schema(view_class):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.openapi import AutoSchema
    from rest_framework.routers import SimpleRouter

    router = SimpleRouter()
    router.register("pages", type("Schema", (view_class,), {"schema": AutoSchema()}), "page")
    return SchemaGenerator(patterns=router.urls).get_schema(request=None, public=True)


def test_drf_spectacular_describes_a_view_whose_context_needs_a_request():
    """drf-spectacular asks a view overriding ``get_serializer()`` (the mixin does) for
    its serializer, with a context of its own: DRF's ``get_serializer()`` then built the
    view's context too, which failed, and the view's responses were left undescribed."""
    expected = _schema(plain(ProjectPagesViewSet))

    schema = _schema(ProjectPagesViewSet)

    assert schema == expected
    response = schema["paths"]["/pages/{id}/"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookWithAuthors"
    }


def test_an_options_request_loads_no_plan(world, django_assert_num_queries):
    """RDMO's integrations: DRF's metadata reads the row to check a PUT's permission."""

    class Editable(AutoPrefetchMixin, viewsets.ModelViewSet):
        queryset = Book.objects.all()
        serializer_class = shapes.BookWithAuthorsSerializer

    book = world.books[0]
    request = APIRequestFactory().options(f"/books/{book.pk}/")
    expected = plain(Editable).as_view({"get": "retrieve", "put": "update"})(request, pk=book.pk)

    with django_assert_num_queries(1):
        response = Editable.as_view({"get": "retrieve", "put": "update"})(request, pk=book.pk)

    assert {**response.data, "name": "Plain Editable"} == expected.data
    assert "PUT" in response.data["actions"]
