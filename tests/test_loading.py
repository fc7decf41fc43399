"""The loading cost model (``SPLIT = "auto"``): a to-one relation below a to-many one is
loaded by a query of its own where a request reads many rows sharing few targets, from
the tables' sizes; joined everywhere else, and wherever a size is not known."""

from __future__ import annotations

import json
import math

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import pagination, serializers, viewsets
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin, PlanError, optimize, plan_for, sizes
from drf_autoprefetch.apply import applied_relations
from drf_autoprefetch.conf import settings as conf
from drf_autoprefetch.explain import explain
from drf_autoprefetch.loading import MIN_ROWS, candidates, choose, distinct_targets, threshold
from drf_autoprefetch.testing import assert_optimized
from tests.testapp import serializers as shapes
from tests.testapp.models import Address, Book, City, Country, Person, Review

BOOKS = 3
REVIEWS = 1200
READERS = 3
#: What the tables hold in :func:`many_reviews`, as ``TABLE_ROWS`` gives it.
TABLE_ROWS = {
    "testapp.Book": BOOKS,
    "testapp.Review": REVIEWS,
    "testapp.Person": READERS,
    "testapp.Address": READERS,
}


@pytest.fixture(autouse=True)
def _forget_statistics():
    sizes.clear()
    yield
    sizes.clear()


@pytest.fixture
def many_reviews(make_world):
    """Three books with 400 reviews each, all by three readers: a fan-in of 1 in 400."""
    make_world()
    Review.all_objects.all().delete()
    Book.objects.exclude(pk__in=list(Book.objects.values_list("pk", flat=True)[:BOOKS])).delete()
    country = Country.objects.create(name="Far", code="FA")
    city = City.objects.create(name="Away", country=country)
    readers = [
        Person.objects.create(name=f"Reader {n}", address=Address.objects.create(city=city))
        for n in range(READERS)
    ]
    Person.objects.exclude(pk__in=[reader.pk for reader in readers]).update(address=None)
    books = list(Book.objects.all())
    Review.objects.bulk_create(
        Review(book=books[n % BOOKS], reviewer=readers[n % READERS], rating=n % 5, body=f"#{n}")
        for n in range(REVIEWS)
    )
    return books


def auto(settings, **more):
    settings.DRF_AUTOPREFETCH = {"SPLIT": "auto", **more}


def rendered(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(serializer_class(queryset, many=True).data, sort_keys=True)
    return data, len(captured)


# ----------------------------------------------------------------- the rule


def test_the_threshold_grows_with_the_width_of_the_row_up_to_a_bound():
    assert threshold(1) == pytest.approx(0.1)
    assert threshold(2) == pytest.approx(0.2)
    assert threshold(9) == 0.3
    assert threshold(50) == 0.3


def test_distinct_targets_is_the_expected_number_of_rows_pointed_to():
    assert distinct_targets(1000, 10) == pytest.approx(10.0)
    assert distinct_targets(10, 1_000_000) == pytest.approx(10.0, rel=1e-4)
    assert distinct_targets(1000, 1000) == pytest.approx(1000 * (1 - math.exp(-1)))


def sizes_of(table):
    return lambda model: table.get(model._meta.label)


def test_many_rows_sharing_few_targets_are_loaded_apart():
    plan = plan_for(shapes.BookReviewsSerializer)

    chosen = choose(Book, plan.relations, BOOKS, sizes_of(TABLE_ROWS))

    # 1,200 reviews point to 3 people: the joins below a person read 3 rows, too few.
    assert chosen == frozenset({"reviews__reviewer"})


def test_the_candidates_are_the_joins_below_the_prefetch():
    plan = plan_for(shapes.BookReviewsSerializer)

    assert [edge.path for edge in candidates(plan.relations)] == [
        "reviews__reviewer",
        "reviews__reviewer__address",
        "reviews__reviewer__address__city",
        "reviews__reviewer__address__city__country",
    ]
    assert [edge.holder.__name__ for edge in candidates(plan.relations)] == [
        "Review",
        "Person",
        "Address",
        "City",
    ]


@pytest.mark.parametrize(
    ("root_rows", "table"),
    [
        (1, TABLE_ROWS),  # 400 reviews per request: under MIN_ROWS
        (None, TABLE_ROWS),  # the rows of the request are not known
        # the targets' sizes are not known
        (BOOKS, {**TABLE_ROWS, "testapp.Person": None, "testapp.Address": None}),
        (BOOKS, {**TABLE_ROWS, "testapp.Review": None}),  # the prefetch's size is not known
        # fan-in 0.39: the join is cheaper
        (BOOKS, {**TABLE_ROWS, "testapp.Person": 600, "testapp.Address": 600}),
    ],
)
def test_the_join_stays_where_splitting_does_not_pay_or_is_not_known(root_rows, table):
    plan = plan_for(shapes.BookReviewsSerializer)

    assert choose(Book, plan.relations, root_rows, sizes_of(table)) == frozenset()


def test_the_rows_of_a_many_to_many_prefetch_are_those_of_its_through_table():
    plan = plan_for(shapes.BookAuthorsSerializer)
    through = Book.authors.through._meta.label
    edges = [edge.path for edge in candidates(plan.relations)]
    assert "authors__address" in edges
    table = {"testapp.Book": 10, through: 2000, "testapp.Address": 5, "testapp.Person": 500}

    assert "authors__address" in choose(Book, plan.relations, 10, sizes_of(table))
    assert choose(Book, plan.relations, 10, sizes_of({**table, through: None})) == frozenset()


def test_a_target_of_unknown_size_leaves_the_joins_below_it_to_their_own_sizes():
    plan = plan_for(shapes.BookReviewsSerializer)
    table = {**TABLE_ROWS, "testapp.Person": None}

    # 1,200 reviews joined to their readers point to 3 addresses.
    chosen = choose(Book, plan.relations, BOOKS, sizes_of(table))

    assert chosen == frozenset({"reviews__reviewer__address"})


def test_a_one_to_one_relation_is_no_candidate():
    class Resident(serializers.ModelSerializer):
        passport = shapes.PassportBriefSerializer(allow_null=True)

        class Meta:
            model = Person
            fields = ["id", "passport"]

    class Authors(serializers.ModelSerializer):
        authors = Resident(many=True)

        class Meta:
            model = Book
            fields = ["id", "authors"]

    edges = [edge.path for edge in candidates(plan_for(Authors).relations)]
    assert edges == ["authors__passport__issued_by"]  # many passports, few issuers


# ----------------------------------------------------------------- applied


@pytest.mark.django_db
def test_split_auto_loads_apart_and_answers_the_same(many_reviews, settings):
    expected, _ = rendered(shapes.BookReviewsSerializer, list(Book.objects.all()))
    plan = plan_for(shapes.BookReviewsSerializer)
    _, joined = rendered(
        shapes.BookReviewsSerializer, optimize(Book.objects.all(), shapes.BookReviewsSerializer)
    )
    auto(settings, TABLE_ROWS=TABLE_ROWS)

    data, queries = rendered(
        shapes.BookReviewsSerializer, optimize(Book.objects.all(), shapes.BookReviewsSerializer)
    )

    assert data == expected
    assert joined == plan.query_count == 2
    assert queries == 3  # books, reviews, their three readers (address, city, country joined)
    assert assert_optimized(shapes.BookReviewsSerializer, Book.objects.all()) == 3


@pytest.mark.django_db
def test_split_auto_joins_for_a_slice_too_small_to_pay(many_reviews, settings):
    auto(settings, TABLE_ROWS=TABLE_ROWS)
    expected, _ = rendered(shapes.BookReviewsSerializer, list(Book.objects.all()[:1]))

    data, queries = rendered(
        shapes.BookReviewsSerializer,
        optimize(Book.objects.all()[:1], shapes.BookReviewsSerializer),
    )

    assert data == expected
    assert queries == 2  # 400 reviews: joined


@pytest.mark.django_db
def test_a_filtered_queryset_with_no_expected_rows_joins(many_reviews, settings):
    auto(settings, TABLE_ROWS=TABLE_ROWS)
    queryset = Book.objects.filter(pk__in=[book.pk for book in many_reviews])

    assert applied_relations(queryset, plan_for(shapes.BookReviewsSerializer)) is (
        plan_for(shapes.BookReviewsSerializer).relations
    )


@pytest.mark.django_db
def test_the_serializer_asks_for_the_cost_model_without_the_setting(many_reviews, settings):
    class Auto(shapes.BookReviewsSerializer):
        autoprefetch_split = "auto"

    class Never(shapes.BookReviewsSerializer):
        autoprefetch_split = False

    settings.DRF_AUTOPREFETCH = {"TABLE_ROWS": TABLE_ROWS}
    expected, _ = rendered(Auto, list(Book.objects.all()))

    data, queries = rendered(Auto, optimize(Book.objects.all(), Auto))
    assert (data, queries) == (expected, 3)

    auto(settings, TABLE_ROWS=TABLE_ROWS)
    assert rendered(Never, optimize(Book.objects.all(), Never)) == (expected, 2)


@pytest.mark.django_db
def test_the_loaded_apart_relations_are_kept_for_the_next_request(many_reviews, settings):
    auto(settings, TABLE_ROWS=TABLE_ROWS)
    plan = plan_for(shapes.BookReviewsSerializer)

    first = applied_relations(Book.objects.all(), plan)
    again = applied_relations(Book.objects.all(), plan)

    assert first is again
    assert first != plan.relations
    assert first[0].children[0].split


class Pages(pagination.PageNumberPagination):
    page_size_query_param = "size"


class ReviewedBooks(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.order_by("pk")
    serializer_class = shapes.BookReviewsSerializer
    pagination_class = Pages


def listed(query):
    view = ReviewedBooks.as_view({"get": "list"})
    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get("/", query))
        response.render()
    return json.loads(response.content), len(captured)


@pytest.mark.django_db
def test_the_view_expects_its_page_size(many_reviews, settings):
    expected, plain = listed({"size": 3})
    auto(settings, TABLE_ROWS=TABLE_ROWS)

    assert listed({"size": 3}) == (expected, plain + 1)  # 1,200 reviews on the page: split
    assert listed({"size": 2})[1] == plain  # 800: joined
    assert listed({"size": 2})[0]["results"] == expected["results"][:2]


@pytest.mark.django_db
def test_a_detail_request_expects_one_row(many_reviews, settings):
    auto(settings, TABLE_ROWS={**TABLE_ROWS, "testapp.Book": 1})  # 1,200 reviews per book
    view = ReviewedBooks.as_view({"get": "retrieve"})

    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get("/"), pk=many_reviews[0].pk)
        response.render()

    assert len(captured) == 3  # the book, its 400 reviews, their readers (1,200 expected)


# ----------------------------------------------------------------- statistics


@pytest.mark.django_db(transaction=True)
def test_the_tables_sizes_come_from_the_databases_statistics(many_reviews, settings):
    auto(settings)
    table = Review._meta.db_table
    if connection.vendor == "mysql":
        analyze = f"ANALYZE TABLE {connection.ops.quote_name(table)}"
    else:
        analyze = f"ANALYZE {connection.ops.quote_name(table)}"
    with connection.cursor() as cursor:
        cursor.execute(analyze)

    with CaptureQueriesContext(connection) as captured:
        rows = sizes.table_rows(Review, "default")
        unanalyzed = sizes.table_rows(Book, "default")

    if connection.vendor == "mysql":  # InnoDB's TABLE_ROWS is an estimate
        assert rows is not None
        assert rows > REVIEWS / 2
    else:
        assert rows == REVIEWS
        assert unanalyzed is None  # a table not analyzed has no known size
    assert len(captured) == 0  # read on a connection of its own


@pytest.mark.django_db
def test_a_size_in_the_setting_needs_no_query(settings):
    settings.DRF_AUTOPREFETCH = {"TABLE_ROWS": {"testapp.Review": 7}}

    with CaptureQueriesContext(connection) as captured:
        assert sizes.table_rows(Review, "default") == 7

    assert len(captured) == 0


@pytest.mark.django_db
def test_the_statistics_are_read_once_per_database(settings, monkeypatch):
    opened = []
    real = sizes.connections.create_connection
    monkeypatch.setattr(
        sizes.connections, "create_connection", lambda alias: opened.append(alias) or real(alias)
    )

    sizes.table_rows(Review, "default")
    sizes.table_rows(Book, "default")

    assert opened == ["default"]


@pytest.mark.django_db
def test_no_statistics_means_no_size(settings):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is not None:
                pytest.skip("this database was analyzed")

    assert sizes.table_rows(Country, "default") is None


def test_the_statistics_are_read_once_per_database_while_fresh(monkeypatch):
    asked = []
    monkeypatch.setattr(sizes, "_ask", lambda alias: asked.append(alias) or {"t": 5.0})
    monkeypatch.setattr(sizes.time, "monotonic", lambda: 1000.0)
    sizes._statistics("default")
    sizes._statistics("default")
    monkeypatch.setattr(sizes.time, "monotonic", lambda: 1000.0 + sizes.STATISTICS_TTL)

    assert sizes._statistics("default") == {"t": 5.0}
    assert asked == ["default", "default"]


# ----------------------------------------------------------------- settings, messages


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"SPLIT": True},
            "DRF_AUTOPREFETCH['SPLIT'] is True, must be 'auto' or False.",
        ),
        ({"SPLIT": 0}, "DRF_AUTOPREFETCH['SPLIT'] is 0, must be 'auto' or False."),
        (
            {"TABLE_ROWS": [("testapp.Book", 3)]},
            "DRF_AUTOPREFETCH['TABLE_ROWS'] must be a dict of model labels to row counts, "
            "such as {'shop.Product': 5000}, not [('testapp.Book', 3)].",
        ),
        (
            {"TABLE_ROWS": {"Book": 3}},
            "DRF_AUTOPREFETCH['TABLE_ROWS'] key 'Book' is not a model label; write "
            "'app_label.ModelName'.",
        ),
        (
            {"TABLE_ROWS": {"testapp.Book": -1}},
            "DRF_AUTOPREFETCH['TABLE_ROWS']['testapp.Book'] is -1, must be a number of rows "
            "(0 or more).",
        ),
    ],
)
def test_bad_settings_say_what_to_write(settings, value, message):
    settings.DRF_AUTOPREFETCH = value

    with pytest.raises(ImproperlyConfigured) as excinfo:
        conf.SPLIT  # noqa: B018

    assert str(excinfo.value) == message


def test_a_bad_autoprefetch_split_is_a_plan_error():
    class Wrong(shapes.BookReviewsSerializer):
        autoprefetch_split = 3

    with pytest.raises(PlanError) as excinfo:
        plan_for(Wrong)

    assert str(excinfo.value) == (
        "Wrong.autoprefetch_split is 3; give a tuple of relation paths, 'auto' (the cost "
        "model decides) or False (the plan joins them all)."
    )


def test_explain_states_the_rule_of_each_candidate(settings):
    auto(settings)

    lines = explain(plan_for(shapes.BookReviewsSerializer))

    assert [line for line in lines if "select reviewer" in line] == [
        "    select reviewer (testapp.Person): joined: a single-valued relation, read in the "
        f"query of its parent; the cost model loads it apart when a request reads at least "
        f"{MIN_ROWS:,} Review rows sharing at most 0.30 distinct Person per row (a 3-column "
        "row), from the tables' sizes"
    ]


def test_explain_says_nothing_of_the_cost_model_when_it_is_off():
    assert not any("cost model" in line for line in explain(plan_for(shapes.BookReviewsSerializer)))


@pytest.mark.django_db
def test_the_debug_toolbar_sees_the_plan_as_applied(many_reviews, settings):
    from drf_autoprefetch import observe
    from drf_autoprefetch.contrib.debug_toolbar.summary import summarize

    auto(settings, TABLE_ROWS=TABLE_ROWS)
    with observe.observing() as report:
        listed({"size": 3})

    summary = summarize(report)
    (plan,) = summary["plans"]
    assert "    prefetch-one reviewer (testapp.Person) [split]" in plan["tree"]
    assert plan["queries"] == 3
    assert [query["node"] for query in summary["queries"]] == [
        "count of testapp.Book rows",
        "testapp.Book rows",
        "prefetch reviews (testapp.Review)",
        "prefetch-one reviewer (testapp.Person) [split]",
    ]


@pytest.mark.django_db
def test_a_decision_serves_requests_alike_until_the_sizes_change(many_reviews, settings):
    auto(settings, TABLE_ROWS=TABLE_ROWS)
    plan = plan_for(shapes.BookReviewsSerializer)
    assert applied_relations(Book.objects.all(), plan) != plan.relations

    spread = dict.fromkeys(("Person", "Address", "City", "Country"), 1200)
    auto(
        settings, TABLE_ROWS={**TABLE_ROWS, **{f"testapp.{name}": n for name, n in spread.items()}}
    )
    plan = plan_for(shapes.BookReviewsSerializer)
    assert applied_relations(Book.objects.all(), plan) is plan.relations


@pytest.mark.django_db
def test_statistics_read_again_are_decided_on_again(many_reviews, settings, monkeypatch):
    auto(settings)
    tables = {Model._meta.db_table: float(rows) for Model, rows in [(Book, 3), (Review, 1200)]}
    person = Person._meta.db_table
    monkeypatch.setattr(sizes, "_ask", lambda alias: {**tables, person: 3.0})
    plan = plan_for(shapes.BookReviewsSerializer)
    assert applied_relations(Book.objects.all(), plan) != plan.relations

    monkeypatch.setattr(sizes, "_ask", lambda alias: {**tables, person: 1200.0})
    assert applied_relations(Book.objects.all(), plan) != plan.relations  # kept
    sizes.clear()
    assert applied_relations(Book.objects.all(), plan) is plan.relations


@pytest.mark.django_db
def test_a_failing_cost_model_keeps_the_plans_joins(many_reviews, settings, monkeypatch, caplog):
    from drf_autoprefetch import loading

    def broken(*args):
        raise AttributeError("a relation of a shape never seen")

    monkeypatch.setattr(loading, "relations_for", broken)
    auto(settings, TABLE_ROWS=TABLE_ROWS)
    expected, _ = rendered(shapes.BookReviewsSerializer, list(Book.objects.all()))

    data, queries = rendered(
        shapes.BookReviewsSerializer, optimize(Book.objects.all(), shapes.BookReviewsSerializer)
    )

    assert (data, queries) == (expected, 2)
    assert caplog.messages == [
        "drf_autoprefetch: the loading cost model failed for testapp.Book; the plan's joins "
        "are kept. Please report it."
    ]
