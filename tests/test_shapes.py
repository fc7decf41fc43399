"""The black-box matrix: every serializer shape, through the public API only.

For each shape the optimized response must equal the unoptimized one (with
soft-deleted rows in the database that must not show up), and must cost exactly the
optimal number of queries at two sizes: one for the root rows, joined to every
single-valued relation reachable without crossing a to-many one, plus one per to-many
relation in the tree, plus one per content type behind a generic foreign key. The
root query must join exactly those single-valued relations and nothing more: a
pk-only forward foreign key needs no join.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from drf_autoprefetch import optimize, plan_for
from tests import test_real_world as rw
from tests.factories import CATEGORY_TREE_HEIGHT, DELETED
from tests.testapp import serializers as s
from tests.testapp.models import Book, Category

SIZES = (2, 4)


def _generic_prefetch_follows_the_database() -> bool:
    """Whether Django's own GenericForeignKey prefetch reads targets from the rows' database.

    Django 4.2 does; later versions build the target queryset without ``using()``, so
    ``prefetch_related("content_object")`` on another database reads the default one.
    """
    content_type = ContentType(app_label="testapp", model="book")
    content_type._state.db = "other"
    return content_type.get_all_objects_for_this_type().db == "other"


@dataclass(frozen=True)
class Shape:
    id: str
    serializer: type[serializers.ModelSerializer]
    #: Optimal number of queries, whatever the number of rows.
    queries: int
    #: Number of JOINs in the optimized root query.
    joins: int
    #: Known gaps of the library, by test: "response", "queries", "joins", "other-database".
    #: Each is an expected failure (strict) until the library closes it.
    gaps: dict[str, str] = field(default_factory=dict)

    @property
    def model(self):
        return self.serializer.Meta.model


SHAPES = [
    # Forward foreign keys and one-to-one: all joined into the root query.
    Shape("flat-no-relations", s.FlatCountrySerializer, queries=1, joins=0),
    Shape("nested-forward-fk", s.CitySerializer, queries=1, joins=1),
    Shape("forward-fk-chain-3-hops-nullable", s.PersonWithAddressSerializer, queries=1, joins=3),
    Shape("forward-one-to-one-chain-4-hops", s.PassportSerializer, queries=1, joins=5),
    Shape("reverse-one-to-one-and-nullable", s.PersonWithPassportSerializer, queries=1, joins=3),
    Shape("nullable-forward-one-to-one", s.LockerSerializer, queries=1, joins=4),
    Shape("nullable-forward-fk-and-slug", s.BookEditorSerializer, queries=1, joins=5),
    # Relational fields.
    Shape("pk-only-forward-fk-no-join", s.BookPrimaryKeySerializer, queries=1, joins=0),
    Shape("pk-many-to-many", s.BookPrimaryKeyManySerializer, queries=2, joins=0),
    Shape("slug-fk-and-slug-many", s.BookSlugSerializer, queries=2, joins=1),
    Shape("string-related-fk-and-many", s.CityStringSerializer, queries=2, joins=1),
    Shape("hyperlinked-by-pk-no-join", s.CityHyperlinkedByPkSerializer, queries=1, joins=0),
    Shape("hyperlinked-by-other-column", s.CityHyperlinkedByCodeSerializer, queries=1, joins=1),
    Shape("hyperlinked-many", s.CountryHyperlinkedManySerializer, queries=2, joins=0),
    Shape("hyperlinked-model-serializer", s.PersonHyperlinkedSerializer, queries=1, joins=0),
    # To-many relations: one query each, joined to the to-one relations below them.
    Shape("nested-many-reverse-fk", s.BookChaptersSerializer, queries=2, joins=0),
    Shape("nested-many-with-inner-select", s.BookReviewsSerializer, queries=2, joins=0),
    Shape("forward-many-to-many-and-soft-deleted", s.BookAuthorsSerializer, queries=3, joins=0),
    Shape("reverse-many-to-many-and-reverse-fk", s.PersonBooksSerializer, queries=3, joins=0),
    Shape("reverse-many-to-many-of-soft-deleting", s.LabelBooksSerializer, queries=2, joins=0),
    Shape("reverse-fk-without-related-name", s.CityAddressesSerializer, queries=3, joins=1),
    Shape("deep-4-levels-to-many-then-to-one", s.CountryTreeSerializer, queries=4, joins=0),
    Shape("deep-mixed-to-one-and-to-many", s.CategoryBooksSerializer, queries=3, joins=1),
    Shape("through-model-rows", s.ClubMembershipsSerializer, queries=2, joins=0),
    Shape("many-to-many-through-forward", s.ClubMembersSerializer, queries=2, joins=0),
    Shape("many-to-many-through-reverse", s.PersonClubsSerializer, queries=3, joins=0),
    # Meta.depth and source=.
    Shape("meta-depth-2", s.BookDepthSerializer, queries=3, joins=4),
    Shape("dotted-source-3-hops", s.PersonDottedSourceSerializer, queries=1, joins=3),
    # The root query also joins the reviewer, for Review's Meta.ordering.
    Shape("dotted-source-to-many", s.ReviewDottedSourceSerializer, queries=2, joins=3),
    Shape("star-source", s.PersonStarSourceSerializer, queries=1, joins=5),
    Shape("property-source-own-columns", s.BookPropertySourceSerializer, queries=1, joins=0),
    Shape("hinted-property-source", s.PersonHintedPropertySerializer, queries=1, joins=2),
    Shape("hinted-method-source", s.BookHintedMethodSourceSerializer, queries=2, joins=0),
    Shape("write-only-relations-not-fetched", s.BookWriteOnlySerializer, queries=1, joins=0),
    # Method fields with hints.
    Shape("hinted-method-prefetch", s.BookHintedPrefetchMethodSerializer, queries=2, joins=0),
    Shape("hinted-method-select", s.BookHintedSelectMethodSerializer, queries=1, joins=2),
    Shape(
        "hinted-method-prefetch-object",
        s.BookHintedPrefetchObjectMethodSerializer,
        queries=2,
        joins=0,
    ),
    # The aggregate is a correlated subquery: no join, no GROUP BY of the root query.
    Shape("hinted-method-annotate", s.BookHintedAnnotationMethodSerializer, queries=1, joins=0),
    # Recursion: children of children.
    Shape("children-of-children-explicit", s.CategoryTwoLevelsSerializer, queries=3, joins=1),
    # One query per level of the tree, plus the one that finds the leaves empty.
    Shape(
        "recursive-self-nesting",
        s.CategoryTreeSerializer,
        queries=CATEGORY_TREE_HEIGHT + 2,
        joins=0,
        gaps={
            "queries": "A self-nesting serializer is planned 3 levels deep; the fourth level "
            "of this tree loads one query per row."
        },
    ),
    # Generic relations.
    Shape("generic-relation", s.BookCommentsSerializer, queries=2, joins=0),
    Shape("generic-relation-and-through", s.ClubCommentsSerializer, queries=3, joins=0),
    # The comments, then one query per content type (books, clubs).
    Shape(
        "generic-foreign-key",
        s.CommentWithTargetSerializer,
        queries=3,
        joins=1,
        gaps={}
        if _generic_prefetch_follows_the_database()
        else {
            "other-database": "Django reads prefetched generic foreign key targets from the "
            "default database on this version, so off it the relation is read row by row "
            "(right answer, one query per row)."
        },
    ),
    # Multi-table inheritance; the child's query always joins its parent's table.
    Shape("inheritance-child-relations", s.RestaurantSerializer, queries=2, joins=7),
    Shape("inheritance-parent-to-child", s.PlaceSerializer, queries=1, joins=3),
    Shape("inheritance-reverse-fk-to-parent", s.CityPlacesSerializer, queries=2, joins=0),
    # Shapes of real applications (tests/test_real_world.py has the data-specific ones).
    Shape("nested-read-only-missing-names", rw.BookInRegionSerializer, queries=1, joins=1),
    Shape("pk-list-rendering-objects", rw.BookLabelsAsObjectsSerializer, queries=2, joins=0),
    Shape("hinted-count-below-many-to-many", rw.BookLabelCountsSerializer, queries=2, joins=0),
    Shape("count-exists-all-sources", rw.BookCountsSerializer, queries=3, joins=0),
    Shape("hinted-to-representation", rw.HintedBookWithCategoryNameSerializer, queries=1, joins=1),
    Shape("hinted-custom-field-class", rw.HintedPersonPlaceSerializer, queries=1, joins=3),
]


def _params(shapes: list[Shape], aspect: str):
    return [
        pytest.param(
            shape,
            id=shape.id,
            marks=[pytest.mark.xfail(reason=shape.gaps[aspect], strict=True)]
            if aspect in shape.gaps
            else [],
        )
        for shape in shapes
    ]


def _render(serializer_class, queryset, context) -> bytes:
    return JSONRenderer().render(serializer_class(queryset, many=True, context=context).data)


def _queryset(shape: Shape, using: str = "default"):
    return shape.model._default_manager.using(using).all()


def _sql(captured) -> str:
    return "\n".join(f"  {query['sql']}" for query in captured)


@pytest.mark.parametrize("shape", _params(SHAPES, "response"))
def test_optimized_response_equals_unoptimized_response(shape, make_world, serializer_context):
    make_world(3)
    optimized = _render(
        shape.serializer,
        optimize(_queryset(shape), shape.serializer, context=serializer_context),
        serializer_context,
    )
    unoptimized = _render(shape.serializer, _queryset(shape), serializer_context)
    assert optimized == unoptimized
    assert DELETED.encode() not in optimized


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"size{size}")
@pytest.mark.parametrize("shape", _params(SHAPES, "queries"))
def test_optimized_response_costs_the_optimal_number_of_queries(
    shape, size, make_world, serializer_context, django_assert_num_queries
):
    make_world(size)
    queryset = optimize(_queryset(shape), shape.serializer, context=serializer_context)
    with django_assert_num_queries(shape.queries):
        _render(shape.serializer, queryset, serializer_context)


@pytest.mark.parametrize("shape", _params(SHAPES, "joins"))
def test_root_query_joins_exactly_the_single_valued_relations(shape, db, serializer_context):
    queryset = optimize(_queryset(shape), shape.serializer, context=serializer_context)
    sql = str(queryset.query)
    assert sql.upper().count(" JOIN ") == shape.joins, sql


# --- named cases, read as documentation ----------------------------------------------


def test_nested_many_serializer_prefetches_with_inner_select(
    make_world, serializer_context, django_assert_num_queries
):
    make_world(2)
    queryset = optimize(Book.objects.all(), s.BookReviewsSerializer, context=serializer_context)
    with django_assert_num_queries(2) as captured:
        _render(s.BookReviewsSerializer, queryset, serializer_context)
    reviews_sql = captured.captured_queries[1]["sql"]
    for table in ("testapp_person", "testapp_address", "testapp_city", "testapp_country"):
        assert table in reviews_sql, _sql(captured.captured_queries)


def test_pk_only_forward_fk_reads_the_column_without_a_join(db):
    queryset = optimize(Book.objects.all(), s.BookPrimaryKeySerializer)
    sql = str(queryset.query)
    assert "JOIN" not in sql.upper()
    assert "testapp_category" not in sql
    assert "testapp_person" not in sql


def test_soft_deleted_rows_hidden_by_the_default_manager_stay_hidden(world, serializer_context):
    for serializer_class in (
        s.BookReviewsSerializer,
        s.BookAuthorsSerializer,
        s.BookSlugSerializer,
    ):
        queryset = optimize(Book.objects.all(), serializer_class, context=serializer_context)
        assert DELETED.encode() not in _render(serializer_class, queryset, serializer_context)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"size{size}")
def test_recursive_serializer_costs_one_query_per_level_of_the_tree(
    size, make_world, serializer_context, django_assert_num_queries
):
    make_world(size)
    # Below the non-root categories the tree is two levels deep: the rows, their
    # children, grandchildren, and the query that finds the great-grandchildren empty.
    queryset = Category.objects.filter(parent__isnull=False)
    serializer_class = s.CategoryTreeSerializer
    optimized = optimize(queryset, serializer_class, context=serializer_context)
    with django_assert_num_queries(4):
        rendered = _render(serializer_class, optimized, serializer_context)
    assert rendered == _render(serializer_class, queryset, serializer_context)


@pytest.mark.usefixtures("no_inference")
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"size{size}")
def test_unhinted_method_field_is_left_unoptimized(
    size, make_world, serializer_context, django_assert_num_queries
):
    world = make_world(size)
    serializer_class = s.BookUnhintedMethodSerializer
    plan = plan_for(serializer_class, context=serializer_context)
    assert any("review_count" in warning for warning in plan.warnings), plan.warnings
    queryset = optimize(Book.objects.all(), serializer_class, context=serializer_context)
    # Never guessed: one query for the books, then the method's own query per book.
    with django_assert_num_queries(1 + len(world.books)):
        optimized = _render(serializer_class, queryset, serializer_context)
    assert optimized == _render(serializer_class, Book.objects.all(), serializer_context)


# --- another database ----------------------------------------------------------------

OTHER_DATABASE_SHAPES = [
    shape
    for shape in SHAPES
    if shape.id
    in {
        "nested-many-with-inner-select",
        "forward-many-to-many-and-soft-deleted",
        "deep-4-levels-to-many-then-to-one",
        "generic-relation",
        "generic-foreign-key",
    }
]


@pytest.mark.django_db(databases=["default", "other"])
@pytest.mark.parametrize("shape", _params(OTHER_DATABASE_SHAPES, "other-database"))
def test_prefetches_run_on_the_database_of_the_root_queryset(
    shape, make_world, serializer_context, django_assert_num_queries
):
    make_world(2, using="other")
    unoptimized = _render(shape.serializer, _queryset(shape, "other"), serializer_context)
    queryset = optimize(_queryset(shape, "other"), shape.serializer, context=serializer_context)
    with (
        django_assert_num_queries(0),
        django_assert_num_queries(shape.queries, connection=connections["other"]),
    ):
        optimized = _render(shape.serializer, queryset, serializer_context)
    assert optimized == unoptimized
