"""Applying a plan: merged with what the QuerySet has, never clashing, never leaking."""

from __future__ import annotations

import json

import django
import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

from drf_autoprefetch import PlanError, optimize, plan_for
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Category, Chapter, Country, Person, Review

pytestmark = pytest.mark.django_db(databases=["default", "other"])


def render(serializer_class, queryset):
    return json.dumps(serializer_class(queryset, many=True).data, sort_keys=True, default=str)


def count_queries(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = render(serializer_class, queryset)
    return len(captured), data


def test_optimized_data_equals_unoptimized_with_optimal_queries(world):
    naive_count, naive = count_queries(shapes.BookReviewsSerializer, Book.objects.all())
    count, optimized = count_queries(
        shapes.BookReviewsSerializer, optimize(Book.objects.all(), shapes.BookReviewsSerializer)
    )

    assert optimized == naive
    assert count == plan_for(shapes.BookReviewsSerializer).query_count == 2
    assert naive_count > count


def test_apply_keeps_a_plain_prefetch_string(world):
    queryset = Book.objects.prefetch_related("reviews")

    count, data = count_queries(
        shapes.BookReviewsSerializer, optimize(queryset, shapes.BookReviewsSerializer)
    )

    assert data == render(shapes.BookReviewsSerializer, Book.objects.all())
    assert count == 2


def test_apply_keeps_a_deeper_plain_prefetch_string(world):
    """The reviewers the queryset prefetches itself (one instance per person, shared by
    their reviews) are not joined over: the view's own three queries."""
    queryset = Book.objects.prefetch_related("reviews__reviewer")

    count, data = count_queries(
        shapes.BookReviewsSerializer, optimize(queryset, shapes.BookReviewsSerializer)
    )

    assert data == render(shapes.BookReviewsSerializer, Book.objects.all())
    assert count == 3


def test_users_filtered_prefetch_wins_and_gets_the_nested_joins(world):
    good = Review.objects.filter(rating__gte=4)
    queryset = Book.objects.prefetch_related(Prefetch("reviews", queryset=good))

    count, data = count_queries(
        shapes.BookReviewsSerializer, optimize(queryset, shapes.BookReviewsSerializer)
    )

    expected = render(shapes.BookReviewsSerializer, queryset)
    assert data == expected
    assert count == 2
    assert all(review["rating"] >= 4 for book in json.loads(data) for review in book["reviews"])


def test_users_prefetch_with_to_attr_is_kept_beside_the_plans_own(world):
    good = Review.objects.filter(rating__gte=4)
    queryset = Book.objects.prefetch_related(
        Prefetch("reviews", queryset=good, to_attr="good_reviews")
    )
    optimized = optimize(queryset, shapes.BookReviewsSerializer)

    lookups = [lookup.prefetch_to for lookup in optimized._prefetch_related_lookups]
    assert lookups == ["reviews", "good_reviews"]
    count, data = count_queries(shapes.BookReviewsSerializer, optimized)
    assert data == render(shapes.BookReviewsSerializer, Book.objects.all())
    assert count == 3
    book = optimized.first()
    assert all(review.rating >= 4 for review in book.good_reviews)


def test_users_deeper_prefetch_is_moved_inside_the_plans_prefetch(world):
    queryset = Book.objects.prefetch_related(
        Prefetch("reviews__reviewer", queryset=Person.objects.filter(name__startswith="P"))
    )
    optimized = optimize(queryset, shapes.BookReviewsSerializer)

    (outer,) = optimized._prefetch_related_lookups
    (inner,) = outer.queryset._prefetch_related_lookups
    assert (outer.prefetch_to, inner.prefetch_to) == ("reviews", "reviewer")
    assert render(shapes.BookReviewsSerializer, optimized) == render(
        shapes.BookReviewsSerializer, queryset
    )


def test_users_prefetch_of_a_joined_relation_is_not_overridden_by_a_join(world):
    only_some = Category.objects.filter(name__contains="1")
    queryset = Book.objects.prefetch_related(Prefetch("category", queryset=only_some))
    optimized = optimize(queryset, shapes.BookTitleSerializer)

    assert optimized.query.select_related is False
    assert render(shapes.BookTitleSerializer, optimized) == render(
        shapes.BookTitleSerializer, queryset
    )


def test_select_related_already_there_is_kept(world):
    queryset = Book.objects.select_related("editor")
    optimized = optimize(queryset, shapes.BookEditorSerializer)

    assert optimized.query.select_related == {
        "category": {},
        "editor": {"address": {"city": {"country": {}}}},
    }


def test_applying_twice_equals_applying_once(world):
    plan = plan_for(shapes.CountryTreeSerializer)
    once = plan.apply(Country.objects.all())
    twice = plan.apply(once)

    assert str(twice.query) == str(once.query)
    assert len(twice._prefetch_related_lookups) == len(once._prefetch_related_lookups)
    with CaptureQueriesContext(connection) as captured:
        data = render(shapes.CountryTreeSerializer, twice)
    assert len(captured) == plan.query_count
    assert data == render(shapes.CountryTreeSerializer, Country.objects.all())


def test_apply_never_evaluates_the_queryset(world):
    queryset = Book.objects.all()
    with CaptureQueriesContext(connection) as captured:
        optimize(queryset, shapes.BookDepthSerializer)

    assert len(captured) == 0
    assert queryset._result_cache is None


def test_soft_deleted_related_rows_stay_hidden(world):
    Review.all_objects.update(deleted=True)

    data = render(
        shapes.BookReviewsSerializer, optimize(Book.objects.all(), shapes.BookReviewsSerializer)
    )

    assert all(book["reviews"] == [] for book in json.loads(data))


def test_values_querysets_are_left_alone(world):
    queryset = Book.objects.values("id")

    assert optimize(queryset, shapes.BookDepthSerializer) is queryset


def test_queryset_of_another_model_is_rejected():
    with pytest.raises(PlanError) as excinfo:
        optimize(Chapter.objects.all(), shapes.BookDepthSerializer)

    assert str(excinfo.value) == (
        "The plan is for testapp.Book but the queryset holds testapp.Chapter; give the "
        "serializer for Chapter or a queryset of Book."
    )


def test_prefetches_follow_the_root_database():
    category = Category.objects.using("other").create(name="Other", slug="other")
    reviewer = Person.objects.using("other").create(name="Reviewer")
    for number in range(3):
        book = Book.objects.using("other").create(
            title=f"Book {number}", isbn=f"isbn-{number}", category=category
        )
        Review.objects.using("other").create(book=book, reviewer=reviewer, rating=5, body="ok")

    queryset = optimize(Book.objects.using("other"), shapes.BookReviewsSerializer)
    with CaptureQueriesContext(connection) as default_queries:
        data = render(shapes.BookReviewsSerializer, queryset)

    assert len(default_queries) == 0
    assert len(json.loads(data)) == 3
    assert data == render(shapes.BookReviewsSerializer, Book.objects.using("other"))


needs_generic_prefetch = pytest.mark.skipif(
    django.VERSION < (5, 0), reason="GenericPrefetch arrived in Django 5.0"
)


def _comment_target_serializer():
    from django.contrib.contenttypes.prefetch import GenericPrefetch
    from rest_framework import serializers

    from drf_autoprefetch import hints
    from tests.testapp.models import Club, Comment

    class CommentTargetSerializer(serializers.ModelSerializer):
        target = serializers.SerializerMethodField()

        class Meta:
            model = Comment
            fields = ["id", "target"]

        @hints(
            prefetch_related=[
                GenericPrefetch(
                    "content_object",
                    [Book.objects.select_related("category"), Club.objects.all()],
                )
            ]
        )
        def get_target(self, comment):
            target = comment.content_object
            if isinstance(target, Book):
                return f"book {target.title} in {target.category.name}"
            return f"club {target.name}"

    return CommentTargetSerializer


@needs_generic_prefetch
def test_generic_prefetch_hint_joins_inside_each_content_type(world):
    from tests.testapp.models import Comment

    serializer_class = _comment_target_serializer()
    plan = plan_for(serializer_class)

    count, data = count_queries(serializer_class, optimize(Comment.objects.all(), serializer_class))

    assert data == render(serializer_class, Comment.objects.all())
    assert count == 3  # comments, then one query per content type (books with categories, clubs)
    (prefetch,) = plan.prefetches
    assert [qs.query.select_related for qs in prefetch.querysets] == [{"category": {}}, False]


def test_generic_foreign_key_off_the_default_database_gives_the_right_targets(make_world):
    from django.db import connections

    from tests.testapp.models import Comment

    make_world(2, using="other")
    queryset = optimize(Comment.objects.using("other"), shapes.CommentWithTargetSerializer)

    with CaptureQueriesContext(connection) as default_queries:
        data = render(shapes.CommentWithTargetSerializer, queryset)

    assert len(default_queries) == 0
    assert data == render(shapes.CommentWithTargetSerializer, Comment.objects.using("other"))
    with CaptureQueriesContext(connections["other"]) as other_queries:
        render(shapes.CommentWithTargetSerializer, queryset.all())
    expected = 3 if django.VERSION < (5, 1) else 1 + Comment.objects.using("other").count()
    assert len(other_queries) == expected


def _annotated_serializer(**kwargs):
    from rest_framework import serializers

    class BookTotalsSerializer(serializers.ModelSerializer):
        review_total = serializers.IntegerField(**kwargs)
        reviews = shapes.ReviewSerializer(many=True, read_only=True)

        class Meta:
            model = Book
            fields = ["id", "review_total", "reviews"]

    return BookTotalsSerializer


def test_root_field_reading_an_annotation_of_the_queryset_is_accepted(world):
    from django.db.models import Count

    serializer_class = _annotated_serializer(read_only=True)
    queryset = Book.objects.annotate(review_total=Count("reviews")).order_by("title", "id")

    count, data = count_queries(serializer_class, optimize(queryset, serializer_class))

    assert data == render(serializer_class, queryset)
    assert count == 2
    assert plan_for(serializer_class).provided({"review_total"}).warnings == ()


def test_required_root_field_naming_nothing_without_the_annotation_is_a_plan_error():
    serializer_class = _annotated_serializer()

    with pytest.raises(PlanError) as excinfo:
        optimize(Book.objects.all(), serializer_class)

    assert str(excinfo.value) == (
        "BookTotalsSerializer.review_total: source 'review_total' names nothing on "
        "testapp.Book. Fix the field's source; relations of Book: authors, category, "
        "chapters, comments, editor, labels, reviews. Did you mean 'reviews'? (An annotation "
        "of that name on the queryset the plan is applied to is accepted.)"
    )
    with pytest.raises(PlanError):
        plan_for(serializer_class)


def test_read_only_root_field_naming_nothing_is_a_warning_and_renders_as_drf_does(world):
    serializer_class = _annotated_serializer(read_only=True)

    count, data = count_queries(serializer_class, optimize(Book.objects.all(), serializer_class))

    assert data == render(serializer_class, Book.objects.all())
    assert "review_total" not in json.loads(data)[0]
    assert count == 2
    assert plan_for(serializer_class).warnings == (
        "BookTotalsSerializer.review_total: source 'review_total' names nothing on "
        "testapp.Book; the field is left unoptimized (DRF renders its default, or leaves it "
        "out, where the attribute is missing). If it is a typo, fix the source. Did you mean "
        "'reviews'?",
    )


def test_checks_accept_a_name_the_views_queryset_annotates():
    from drf_autoprefetch.checks import check_serializer

    serializer_class = _annotated_serializer()

    assert check_serializer(serializer_class, {"review_total"}) == []
    (error,) = check_serializer(serializer_class)
    assert error.id == "drf_autoprefetch.E001"


def test_prefetches_over_plain_managers_are_built_once_and_copied_per_use(make_world):
    """Built once per plan (their query is shared, never cloned again) and handed out as
    copies: Django records the instance a prefetch serves in its queryset's hints, which
    pick the database, so one request's rows never route another's."""
    make_world(2)
    first = optimize(Book.objects.all(), shapes.BookWithAuthorsSerializer)
    expected = json.dumps(shapes.BookWithAuthorsSerializer(first, many=True).data)
    Person.objects.update(name="Renamed")
    again = optimize(Book.objects.all(), shapes.BookWithAuthorsSerializer)

    (mine,), (theirs,) = again._prefetch_related_lookups, first._prefetch_related_lookups
    assert mine is not theirs
    assert mine.queryset.query is theirs.queryset.query  # built once
    assert mine.queryset._hints is not theirs.queryset._hints
    assert "instance" in theirs.queryset._hints  # Django's mark of the first use
    assert mine.queryset._hints == {}
    rendered = json.dumps(shapes.BookWithAuthorsSerializer(again, many=True).data)
    assert rendered != expected
    assert "Renamed" in rendered


@pytest.mark.django_db
def test_prefetches_on_a_backend_without_a_parameter_limit_are_read_unexamined(world, monkeypatch):
    from drf_autoprefetch import batching

    examined = []
    real = batching._batches
    monkeypatch.setattr(batching, "_batches", lambda queryset: examined.append(1) or real(queryset))
    books = optimize(Book.objects.all(), shapes.BookReviewsSerializer)

    data = shapes.BookReviewsSerializer(books, many=True).data

    assert len(data) == Book.objects.count()
    # SQLite limits the parameters of a query; PostgreSQL and MySQL do not.
    assert bool(examined) is (connection.vendor == "sqlite")


@pytest.mark.django_db
@pytest.mark.parametrize("one_database", [False, True])
def test_with_one_database_the_kept_prefetches_serve_every_request(
    world, monkeypatch, one_database
):
    from drf_autoprefetch import apply

    monkeypatch.setattr(apply, "one_database", lambda: one_database)
    serializer = shapes.BookChaptersSerializer  # chapters come from Django's own manager
    expected = json.dumps(serializer(list(Book.objects.all()), many=True).data)

    first = optimize(Book.objects.all(), serializer)
    again = optimize(Book.objects.all(), serializer)

    shared = first._prefetch_related_lookups[0] is again._prefetch_related_lookups[0]
    assert shared is one_database  # else each request gets copies with hints of its own
    # Onto a queryset that prefetches nothing, the very tuple of lookups is kept.
    kept = first._prefetch_related_lookups is again._prefetch_related_lookups
    assert kept is one_database
    mine = optimize(Book.objects.prefetch_related("reviews"), serializer)
    assert mine._prefetch_related_lookups[-1] == "reviews"
    assert (mine._prefetch_related_lookups[0] is first._prefetch_related_lookups[0]) is one_database
    assert json.dumps(serializer(first, many=True).data) == expected
    assert json.dumps(serializer(again, many=True).data) == expected
