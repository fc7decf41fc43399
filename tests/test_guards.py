"""Code behind a guard: reads made only for rows that lack what the guard asks about
(an attribute a view sets, an annotation, a relation it loads). The plan loads them for
querysets that do not provide it, and leaves them out for those that do."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Count, Prefetch
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin, optimize, plan_for
from drf_autoprefetch.inference.reading import LOADED, ROWS, read_function
from drf_autoprefetch.testing import assert_optimized
from tests.testapp.models import Book, Comment, Person, Review


class HasReviewsSerializer(serializers.ModelSerializer):
    has_reviews = serializers.BooleanField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "has_reviews"]


class ReviewCountSerializer(serializers.ModelSerializer):
    review_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "review_count"]

    def get_review_count(self, book):
        if hasattr(book, "review_total"):
            return book.review_total
        return book.reviews.count()


class CommentTargetField(serializers.RelatedField):
    """pulp's related resources: cheap where the view joined the content type."""

    def to_representation(self, comment):
        if Comment.content_type.is_cached(comment):
            return f"{comment.content_type.model}/{comment.object_id}"
        target = comment.content_object
        return f"{target._meta.model_name}/{target.pk}"


class BookCommentsSerializer(serializers.ModelSerializer):
    comments = CommentTargetField(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "comments"]


def rendered(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(serializer_class(queryset, many=True).data, sort_keys=True)
    return data, len(captured)


def compare(serializer_class, make_queryset):
    """The unoptimized and optimized renderings of the queryset ``make_queryset`` builds,
    with their query counts."""
    expected, naive = rendered(serializer_class, make_queryset())
    data, queries = rendered(serializer_class, optimize(make_queryset(), serializer_class))
    assert data == expected
    return naive, queries


def listed_reviews():
    return Book.objects.prefetch_related(
        Prefetch("reviews", queryset=Review.objects.all(), to_attr="listed_reviews")
    )


@pytest.mark.django_db
def test_a_to_attr_the_view_prefetches_spares_the_fallbacks_prefetch(world):
    assert "reviews" in plan_for(HasReviewsSerializer).select_related + tuple(
        lookup.prefetch_to for lookup in plan_for(HasReviewsSerializer).prefetches
    )

    assert compare(HasReviewsSerializer, listed_reviews) == (2, 2)  # books, listed reviews
    naive, queries = compare(HasReviewsSerializer, Book.objects.all)
    assert (naive, queries) == (1 + Book.objects.count(), 2)  # books, their reviews


@pytest.mark.django_db
def test_an_annotation_the_view_adds_spares_the_fallbacks_prefetch(world):
    def counted():
        return Book.objects.annotate(review_total=Count("reviews"))

    assert compare(ReviewCountSerializer, counted) == (1, 1)
    naive, queries = compare(ReviewCountSerializer, Book.objects.all)
    assert queries == 2
    assert naive == 1 + Book.objects.count()


@pytest.mark.django_db
def test_a_relation_the_view_joins_spares_the_generic_prefetch_of_the_fallback(world):
    def joined():
        return Book.objects.prefetch_related(
            Prefetch("comments", queryset=Comment.objects.select_related("content_type"))
        )

    assert compare(BookCommentsSerializer, joined) == (2, 2)  # books, comments and types
    _, queries = compare(BookCommentsSerializer, Book.objects.all)
    # Books, comments, the books they are on (content types come from Django's cache).
    assert queries == plan_for(BookCommentsSerializer).query_count == 3


def test_the_plan_lists_what_spares_its_reads():
    assert plan_for(HasReviewsSerializer).conditions == frozenset({"listed_reviews"})
    assert plan_for(ReviewCountSerializer).conditions == frozenset({"review_total"})
    assert plan_for(BookCommentsSerializer).conditions == frozenset({"comments__content_type"})


def _unless(function):
    reading = read_function(function, 0)
    return {
        tuple(name for name in access.path if name != ROWS): access.unless
        for access in reading.accesses
    }


def early_return(obj):
    if "n" in obj.__dict__:
        return obj.n
    return obj.items.count()


def negated(obj):
    if not hasattr(obj, "n"):
        return len(obj.items.all())
    return obj.n


def expression(obj):
    return obj.n if "n" in obj.__dict__ else obj.items.count()


def truthy(obj):
    # The value of an annotation may be 0 or None on some rows: no guard.
    return getattr(obj, "n", None) or obj.items.count()


def loaded(obj):
    if "items" in obj._prefetched_objects_cache:
        return 0
    return obj.owner.name


def unguarded(obj):
    if obj.flag:
        return obj.items.count()
    return obj.owner.name


@pytest.mark.parametrize("function", [early_return, negated, expression])
def test_guards_on_an_attribute_the_rows_may_carry(function):
    assert _unless(function)[("items",)] == frozenset({("n",)})


def test_a_guard_on_a_relations_loading_and_no_guard():
    assert _unless(loaded)[("owner", "name")] == frozenset({(LOADED, "items")})
    assert _unless(truthy)[("items",)] == frozenset()
    assert _unless(unguarded)[("items",)] == frozenset()
    assert _unless(unguarded)[("owner", "name")] == frozenset()


def test_a_read_outside_the_guard_keeps_the_relation():
    class Both(ReviewCountSerializer):
        reviews = serializers.StringRelatedField(many=True)

        class Meta(ReviewCountSerializer.Meta):
            fields = ["id", "review_count", "reviews"]

    plan = plan_for(Both)

    assert plan.conditions == frozenset()
    assert plan.spared_by(frozenset({"review_total"})) is plan


class ProfileOrNameSerializer(serializers.ModelSerializer):
    """``hasattr(obj, "locker")`` asks whether a related row exists, on every row as it
    is: loading the relation does not make it true, so it spares nothing."""

    shown = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = ["id", "shown"]

    def get_shown(self, person):
        if hasattr(person, "locker"):
            return person.locker.number
        return person.address.city.name if person.address else None


def test_asking_whether_a_related_row_exists_is_no_guard():
    assert plan_for(ProfileOrNameSerializer).conditions == frozenset()


@pytest.mark.django_db
def test_assert_optimized_predicts_the_plan_the_queryset_gets(world):
    counted = Book.objects.annotate(review_total=Count("reviews"))

    assert assert_optimized(ReviewCountSerializer, counted) == 1
    assert assert_optimized(ReviewCountSerializer, Book.objects.all()) == 2


def test_merged_plans_keep_a_relation_one_of_them_reads_unguarded():
    class Listed(serializers.ModelSerializer):
        reviews = serializers.StringRelatedField(many=True)

        class Meta:
            model = Book
            fields = ["id", "reviews"]

    guarded = plan_for(ReviewCountSerializer)
    merged = guarded | plan_for(Listed)

    assert guarded.conditions == frozenset({"review_total"})
    assert merged.conditions == frozenset()
    assert merged.spared_by(frozenset({"review_total"})) is merged
    assert (guarded | guarded).conditions == frozenset({"review_total"})


# ------------------------------------------------------------ tests of the context


class ReviewerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name"]


class ReviewBodySerializer(serializers.ModelSerializer):
    reviewer = ReviewerSerializer()

    class Meta:
        model = Review
        fields = ["id", "body", "reviewer"]


class ExportBookSerializer(serializers.ModelSerializer):
    """RDMO's exports: the nested rows only where the context asks for them."""

    reviews = serializers.SerializerMethodField()
    editor = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "reviews", "editor"]

    def get_reviews(self, book):
        reviews = book.reviews.all()
        if self.context.get("reviews"):
            return ReviewBodySerializer(reviews, many=True, context=self.context).data
        return [review.pk for review in reviews]

    def get_editor(self, book):
        if "brief" in self.context:
            return book.editor_id
        return book.editor.name if book.editor else None


class EarlyExitSerializer(serializers.ModelSerializer):
    chapters = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "chapters"]

    def get_chapters(self, book):
        if not self.context.get("with_chapters", True):
            return None
        return [chapter.title for chapter in book.chapters.all()]


def rendered_with(serializer_class, queryset, context):
    with CaptureQueriesContext(connection) as captured:
        data = serializer_class(queryset, many=True, context=context).data
    return json.dumps(data, sort_keys=True), len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("context", "reviewers", "editors"),
    [
        ({}, False, True),
        ({"reviews": True}, True, True),
        ({"brief": None}, False, False),
        ({"reviews": 1, "brief": 1}, True, False),
    ],
)
def test_reads_behind_a_test_of_the_context_load_where_the_context_asks_for_them(
    world, context, reviewers, editors
):
    """RDMO's question exports ran more queries with the library than without it where
    the context did not ask for the nested rows."""
    expected, naive = rendered_with(ExportBookSerializer, Book.objects.all(), context)
    optimized = optimize(Book.objects.all(), ExportBookSerializer, context=context)

    data, count = rendered_with(ExportBookSerializer, optimized, context)

    assert data == expected
    assert count == 2 < naive  # books, reviews
    (reviews,) = optimized._prefetch_related_lookups
    assert bool(reviews.queryset.query.select_related) is reviewers
    assert bool(optimized.query.select_related) is editors


@pytest.mark.django_db
@pytest.mark.parametrize(("context", "queries"), [({}, 2), ({"with_chapters": 0}, 1)])
def test_an_early_return_on_the_context_spares_the_rest(world, context, queries):
    expected, naive = rendered_with(EarlyExitSerializer, Book.objects.all(), context)

    optimized = optimize(Book.objects.all(), EarlyExitSerializer, context=context)
    data, count = rendered_with(EarlyExitSerializer, optimized, context)

    assert data == expected
    assert count == queries <= naive


@pytest.mark.django_db
def test_without_a_context_every_read_behind_a_test_of_it_is_planned(world):
    """``optimize()`` given no context cannot tell how the test goes: all is loaded."""
    queryset = optimize(Book.objects.all(), ExportBookSerializer)

    paths = [lookup.prefetch_to for lookup in queryset._prefetch_related_lookups]
    assert paths == ["reviews"]
    inner = queryset._prefetch_related_lookups[0].queryset
    assert inner.query.select_related == {"reviewer": {}}
    assert queryset.query.select_related == {"editor": {}}


def test_the_tests_of_the_context_are_the_plans_conditions():
    from drf_autoprefetch import contextual

    conditions = plan_for(ExportBookSerializer).conditions

    assert contextual.met(conditions, {"reviews": True, "brief": None}) == {
        contextual.condition("reviews", contextual.TRUTH, False, True),
        contextual.condition("brief", contextual.PRESENCE, False, True),
    }
    assert contextual.met(conditions, {}) == {
        contextual.condition("reviews", contextual.TRUTH, False, False),
    }
    assert contextual.met(conditions, None) == frozenset()


class NamedReviewerSerializer(serializers.ModelSerializer):
    reviewer = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "reviewer"]

    def get_reviewer(self, review):
        if self.context.get("names"):
            return review.reviewer.name
        return review.reviewer_id


class ListedBookSerializer(serializers.ModelSerializer):
    reviews = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "reviews"]

    def get_reviews(self, book):
        context = {"names": True}  # a context of its own, not the view's
        return NamedReviewerSerializer(book.reviews.all(), many=True, context=context).data


@pytest.mark.django_db
def test_a_serializer_built_in_code_tests_a_context_of_its_own(world):
    """The view's context says nothing of a serializer built with another one: its
    reads behind tests of the context stay planned."""
    expected, naive = rendered_with(ListedBookSerializer, Book.objects.all(), {})

    optimized = optimize(Book.objects.all(), ListedBookSerializer, context={})
    data, count = rendered_with(ListedBookSerializer, optimized, {})

    assert data == expected
    assert count == 2 < naive  # books, reviews with their reviewers


class ExportViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = ExportBookSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["reviews"] = self.request.query_params.get("reviews") == "full"
        return context


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "reviewers"), [({}, False), ({"reviews": "full"}, True)])
def test_the_view_plans_with_the_context_it_renders_with(world, query, reviewers):
    plain = type("Plain", (ExportViewSet,), {"autoprefetch": False})
    view = ExportViewSet.as_view({"get": "list"})
    expected = plain.as_view({"get": "list"})(APIRequestFactory().get("/books/", query)).data

    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get("/books/", query))

    assert response.data == expected
    assert len(captured) == 2
    selected = captured[1]["sql"].split(" FROM ")[0]
    person_id = f"{connection.ops.quote_name('testapp_person')}.{connection.ops.quote_name('id')}"
    assert (person_id in selected) is reviewers


class SharedContextBookSerializer(serializers.ModelSerializer):
    """RDMO's exports: each level built in code, handed the context it got."""

    reviews = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "reviews"]

    def get_reviews(self, book):
        return NamedReviewerSerializer(book.reviews.all(), many=True, context=self.context).data


@pytest.mark.django_db
@pytest.mark.parametrize(("context", "reviewers"), [({}, False), ({"names": 1}, True)])
def test_a_serializer_built_in_code_with_the_same_context_tests_it_too(world, context, reviewers):
    expected, naive = rendered_with(SharedContextBookSerializer, Book.objects.all(), context)
    optimized = optimize(Book.objects.all(), SharedContextBookSerializer, context=context)

    data, count = rendered_with(SharedContextBookSerializer, optimized, context)

    assert data == expected
    assert count == 2 < naive
    (reviews,) = optimized._prefetch_related_lookups
    assert bool(reviews.queryset.query.select_related) is reviewers


class ExportActionViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """RDMO's export actions: the action builds the serializer with a context of its
    own, from the request's query parameters, which the view's context does not hold."""

    queryset = Book.objects.all()
    serializer_class = HasReviewsSerializer

    @action(detail=False)
    def export(self, request):
        rows = self.filter_queryset(self.get_queryset())
        context = {"reviews": request.query_params.get("full") == "1"}
        return Response(ExportBookSerializer(rows, many=True, context=context).data)


@pytest.mark.django_db
def test_an_action_building_its_serializer_with_its_own_context_plans_every_branch(world):
    plain = type("Plain", (ExportActionViewSet,), {"autoprefetch": False})
    request = APIRequestFactory().get("/books/export/", {"full": "1"})
    expected = plain.as_view({"get": "export"})(request).data

    with CaptureQueriesContext(connection) as captured:
        response = ExportActionViewSet.as_view({"get": "export"})(request)

    assert response.data == expected
    assert len(captured) == 2  # books with their editors, reviews with their reviewers


class CountedBookSerializer(serializers.ModelSerializer):
    review_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "isbn", "category", "review_count"]

    def get_review_count(self, book):
        if hasattr(book, "review_total"):
            return book.review_total
        return book.reviews.count()


class CountedBookViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    """Modoboa's accounts: the write sets what the guard asks about on the saved row."""

    queryset = Book.objects.all()
    serializer_class = CountedBookSerializer

    def perform_create(self, serializer):
        serializer.save().review_total = 0


@pytest.mark.django_db
def test_what_the_saved_row_carries_spares_the_reads_behind_a_guard(world):
    category = Book.objects.first().category
    data = {"title": "New", "isbn": "978-0-00-000000-1", "category": category.pk}
    plain = type("Plain", (CountedBookViewSet,), {"autoprefetch": False})
    with CaptureQueriesContext(connection) as unoptimized:
        expected = plain.as_view({"post": "create"})(APIRequestFactory().post("/", data))
    Book.objects.filter(isbn=data["isbn"]).delete()

    with CaptureQueriesContext(connection) as captured:
        response = CountedBookViewSet.as_view({"post": "create"})(
            APIRequestFactory().post("/", data)
        )

    assert response.status_code == expected.status_code == 201
    assert {**response.data, "id": None} == {**expected.data, "id": None}
    assert len(captured) == len(unoptimized)
