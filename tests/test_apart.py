"""A split to-one relation loaded by the prefetch above it (:mod:`drf_autoprefetch.apart`):
the same rows as Django's nested prefetch, one instance per distinct target, one query."""

from __future__ import annotations

import json

import pytest
from django.db import connection, connections
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from drf_autoprefetch import batching, optimize, plan_for
from drf_autoprefetch.apart import Apart, apart_field
from tests.testapp import serializers as shapes
from tests.testapp.models import (
    Address,
    Book,
    Club,
    Membership,
    Parcel,
    Person,
    Review,
    Warehouse,
)


class MembershipSerializer(serializers.ModelSerializer):
    person = shapes.PersonBriefSerializer()
    invited_by = shapes.PersonBriefSerializer(allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "role", "person", "invited_by"]


class ClubSerializer(serializers.ModelSerializer):
    memberships = MembershipSerializer(many=True, source="membership_set")

    class Meta:
        model = Club
        fields = ["id", "name", "memberships"]


class SplitClubSerializer(ClubSerializer):
    autoprefetch_split = ("membership_set__person", "membership_set__invited_by")


class SplitReviewersSerializer(shapes.BookReviewsSerializer):
    autoprefetch_split = ("reviews__reviewer",)


def rendered(serializer_class, queryset):
    with CaptureQueriesContext(
        connections[queryset.db if hasattr(queryset, "db") else "default"]
    ) as captured:
        data = json.dumps(serializer_class(queryset, many=True).data, sort_keys=True)
    return data, captured


def prefetch_of(queryset, path):
    [lookup] = [each for each in queryset._prefetch_related_lookups if each.prefetch_to == path]
    return lookup


@pytest.mark.django_db
def test_the_prefetch_above_loads_the_split_relation_itself(world):
    books = optimize(Book.objects.all(), SplitReviewersSerializer)

    reviews = prefetch_of(books, "reviews").queryset
    assert [load.field.name for load in reviews._iterable_class.loads] == ["reviewer"]
    assert reviews._prefetch_related_lookups == ()
    # What is below the split relation is joined into its own query.
    [load] = reviews._iterable_class.loads
    assert load.queryset.query.select_related == {"address": {"city": {"country": {}}}}


@pytest.mark.django_db
def test_split_rows_equal_the_unoptimized_rows_with_one_instance_per_target(world):
    expected, _ = rendered(SplitReviewersSerializer, list(Book.objects.all()))

    books = optimize(Book.objects.all(), SplitReviewersSerializer)
    data, captured = rendered(SplitReviewersSerializer, books)

    assert data == expected
    assert len(captured) == plan_for(SplitReviewersSerializer).query_count == 3
    reviewers = {}
    for book in books:
        for review in book.reviews.all():
            assert reviewers.setdefault(review.reviewer_id, review.reviewer) is review.reviewer
    assert len(reviewers) == Review.objects.values("reviewer").distinct().count()


@pytest.mark.django_db
def test_null_keys_hold_none_and_each_split_relation_is_one_query(world):
    assert Membership.objects.filter(invited_by=None).exists()
    expected, _ = rendered(SplitClubSerializer, list(Club.objects.all()))

    clubs = optimize(Club.objects.all(), SplitClubSerializer)
    data, captured = rendered(SplitClubSerializer, clubs)

    assert data == expected
    assert len(captured) == plan_for(SplitClubSerializer).query_count == 4
    person_queries = [query["sql"] for query in captured if "testapp_person" in query["sql"]]
    assert len(person_queries) == 2  # people, and who invited them: no NULL key is sent
    assert all("NULL" not in sql for sql in person_queries)


@pytest.mark.django_db
def test_a_split_relation_is_read_in_batches_under_the_parameter_limit(world, monkeypatch):
    monkeypatch.setattr(batching, "_may_batch", lambda alias: True)
    monkeypatch.setattr(batching, "parameter_limit", lambda alias: 4)
    expected, _ = rendered(SplitReviewersSerializer, list(Book.objects.all()))

    data, captured = rendered(
        SplitReviewersSerializer, optimize(Book.objects.all(), SplitReviewersSerializer)
    )

    assert data == expected
    reviewers = Review.objects.values("reviewer").distinct().count()
    people = f"FROM {connection.ops.quote_name('testapp_person')}"
    reviewer_queries = [query for query in captured if people in query["sql"]]
    assert reviewers > 2
    assert len(reviewer_queries) == -(-reviewers // 4)  # four keys a query, the limit


@pytest.mark.django_db(databases=["default", "other"])
def test_rows_of_another_database_get_their_targets_from_it(make_world):
    make_world(using="other")
    expected, _ = rendered(SplitReviewersSerializer, list(Book.objects.using("other")))

    books = optimize(Book.objects.using("other"), SplitReviewersSerializer)
    with CaptureQueriesContext(connections["default"]) as on_default:
        data, on_other = rendered(SplitReviewersSerializer, books)

    assert data == expected
    assert len(on_default) == 0
    assert len(on_other) == 3
    assert all(
        review.reviewer._state.db == "other" for book in books for review in book.reviews.all()
    )


@pytest.mark.django_db
def test_rows_holding_the_relation_keep_it(world):
    reviews = list(Review.objects.select_related("reviewer"))
    held = [review.reviewer for review in reviews]
    load = Apart(apart_field(Review, "reviewer"), Person._base_manager.all(), QuerySet.all)

    with CaptureQueriesContext(connection) as captured:
        load.load(reviews)

    assert len(captured) == 0
    assert [review.reviewer for review in reviews] == held
    assert all(a is b for a, b in zip((r.reviewer for r in reviews), held, strict=True))


@pytest.mark.django_db
def test_a_key_pointing_to_no_row_holds_none_as_djangos_prefetch_does():
    hub = Warehouse.objects.create(name="Hub")
    gone = Warehouse.objects.create(name="Gone")
    Parcel.objects.bulk_create(
        Parcel(label=f"P{n}", warehouse=(hub, gone)[n % 2]) for n in range(4)
    )
    gone.delete()
    expected = list(Parcel.objects.all())
    prefetch_related_objects(expected, "warehouse")
    parcels = list(Parcel.objects.all())
    load = Apart(apart_field(Parcel, "warehouse"), Warehouse._base_manager.all(), QuerySet.all)

    load.load(parcels)

    field = apart_field(Parcel, "warehouse")
    held = [field.get_cached_value(parcel) for parcel in parcels]
    assert held == [hub, None, hub, None]
    assert held == [field.get_cached_value(parcel) for parcel in expected]


@pytest.mark.parametrize(
    ("model", "name", "apart"),
    [
        (Review, "reviewer", True),
        (Person, "address", True),
        (Address, "city", True),
        (Person, "passport", False),  # a reverse one-to-one
        (Person, "clubs", False),  # many-to-many
        (Review, "nothing", False),
    ],
)
def test_which_relations_load_apart(model, name, apart):
    assert (apart_field(model, name) is not None) is apart


@pytest.mark.django_db
def test_a_split_relation_the_views_queryset_joins_is_planned_through_its_join(world):
    """The view's reviews join their reviewers: a query of the plan's own for them is one
    Django never runs (the rows hold them), with all nested in it. What is below them
    goes through the view's join instead (Nautobot's ``?depth=2`` interfaces, whose
    virtual machine the view joins)."""

    def queryset():
        reviews = Review.objects.select_related("reviewer").order_by("id")
        return Book.objects.prefetch_related(Prefetch("reviews", queryset=reviews))

    with CaptureQueriesContext(connection) as naive:
        expected = json.dumps(SplitReviewersSerializer(queryset(), many=True).data, sort_keys=True)
    data, captured = rendered(
        SplitReviewersSerializer, optimize(queryset(), SplitReviewersSerializer)
    )

    assert data == expected
    assert len(captured) == 2  # books; reviews with reviewers, addresses, cities, countries
    assert len(naive) > len(captured)


@pytest.fixture
def three_tables(monkeypatch):
    """Joins of at most three tables: a reviewer with its address and more is too wide,
    loaded apart."""
    from drf_autoprefetch import widths
    from drf_autoprefetch.planner import clear_cache

    monkeypatch.setattr(widths, "MAX_TABLES", 3)
    clear_cache()
    yield
    clear_cache()


def rendered_with_reviews_joining(joined):
    """Books rendered unoptimized and optimized, the view's reviews joining ``joined``."""

    def queryset():
        reviews = Review.objects.select_related(joined).order_by("id")
        return Book.objects.prefetch_related(Prefetch("reviews", queryset=reviews))

    expected, naive = rendered(shapes.BookReviewsSerializer, queryset())
    data, captured = rendered(
        shapes.BookReviewsSerializer, optimize(queryset(), shapes.BookReviewsSerializer)
    )
    assert data == expected
    return len(naive), len(captured)


@pytest.mark.django_db
def test_a_relation_too_wide_to_join_that_the_view_joins_gets_what_is_below_it(world, three_tables):
    """Nautobot's ``?depth=2`` interfaces: the view joins ``virtual_machine``, which the
    plan loads apart because its joins would be too wide. Its query would never run (the
    rows hold it): what is below it is loaded by lookups of their own (each a query, not
    one per row)."""
    plan = plan_for(shapes.BookReviewsSerializer)
    [reviews] = [relation for relation in plan.relations if relation.attr == "reviews"]
    assert [child.wide for child in reviews.children] == [True]

    naive, queries = rendered_with_reviews_joining("reviewer")

    assert queries < naive
    assert queries == 3  # books; reviews with reviewers; addresses with the rest


@pytest.mark.django_db
def test_levels_the_view_joins_below_a_relation_too_wide_to_join_are_held_in_turn(
    world, three_tables
):
    """Nautobot's rack groups at ``?depth=2``: the view joins the location and its
    location type; a query of the plan's own for that type never runs, and what is
    below it (its parent type) was read row by row."""
    naive, queries = rendered_with_reviews_joining("reviewer__address")

    assert queries < naive
    assert queries == 3  # books; reviews with reviewers and addresses; cities
