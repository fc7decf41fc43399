"""The planner: serializer class in, plan out, with database access blocked."""

from __future__ import annotations

import logging

import pytest
from django.db.models import Prefetch
from django.test import override_settings
from rest_framework import serializers

from drf_autoprefetch import PlanError, hints, plan_for
from drf_autoprefetch.plan import Kind
from drf_autoprefetch.planner import clear_cache
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Category, Person, Review, Shelf

# These tests are about how fields the planner cannot see through are reported: they
# plan without inference, which would see through the test app's simple methods.
pytestmark = pytest.mark.usefixtures("no_inference")


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def kinds(plan_or_relation):
    """The tree as nested ``(kind, attr, children)`` tuples, easy to compare."""
    relations = getattr(plan_or_relation, "relations", None) or plan_or_relation.children
    return tuple((rel.kind.value, rel.attr, kinds(rel)) for rel in relations)


def test_forward_chain_is_one_select_related_path():
    plan = plan_for(shapes.PersonWithAddressSerializer)

    assert plan.select_related == ("address__city__country",)
    assert plan.prefetches == ()
    assert plan.query_count == 1


def test_nested_many_serializer_prefetches_with_inner_select():
    plan = plan_for(shapes.BookCommentsSerializer)

    assert plan.select_related == ()
    (prefetch,) = plan.prefetches
    assert prefetch.prefetch_to == "comments"
    assert prefetch.queryset.query.select_related == {"author": {}}
    assert plan.query_count == 2


def test_to_one_below_to_many_is_never_an_extra_prefetch_lookup():
    plan = plan_for(shapes.CountryTreeSerializer)

    assert kinds(plan) == (
        (
            "prefetch",
            "cities",
            (
                (
                    "prefetch",
                    "address_set",
                    (
                        (
                            "prefetch",
                            "residents",
                            (("select", "passport", (("select", "issued_by", ()),)),),
                        ),
                    ),
                ),
            ),
        ),
    )
    residents = plan.prefetches[0].queryset._prefetch_related_lookups[0].queryset
    inner = residents._prefetch_related_lookups[0]
    assert inner.prefetch_to == "residents"
    assert inner.queryset.query.select_related == {"passport": {"issued_by": {}}}
    assert plan.query_count == 4


def test_pk_only_forward_fk_adds_no_join():
    plan = plan_for(shapes.BookPrimaryKeySerializer)

    assert plan.select_related == ()
    assert plan.relations == ()


@override_settings(DRF_AUTOPREFETCH={"PRUNE_COLUMNS": True})
def test_many_pk_list_prefetches_ids_only_where_pruning_is_on():
    plan = plan_for(shapes.BookPrimaryKeyManySerializer)

    (relation,) = plan.relations
    assert relation.kind is Kind.PREFETCH
    assert relation.only == ("id",)


@override_settings(DRF_AUTOPREFETCH={"PRUNE_COLUMNS": True})
def test_reverse_fk_pk_list_keeps_the_foreign_key_column():
    plan = plan_for(shapes.CountryHyperlinkedManySerializer)

    (relation,) = plan.relations
    assert relation.only == ("id", "country_id")


@pytest.mark.parametrize(
    ("prune", "why"),
    [
        ("auto", "all: only keys are read, but leaving out the rest does not pay"),
        (False, "all: pruning is off"),
    ],
)
def test_a_pk_list_of_narrow_rows_loads_them_whole_unless_pruning_is_on(prune, why):
    # Leaving out narrow columns makes the query slower (Django's deferred instances),
    # and code changing the fields when it renders may read them after all.
    with override_settings(DRF_AUTOPREFETCH={"PRUNE_COLUMNS": prune}):
        plan = plan_for(shapes.BookPrimaryKeyManySerializer)

    (relation,) = plan.relations
    assert relation.only is None
    assert relation.columns_why == why


class ShelfManualIdsSerializer(serializers.ModelSerializer):
    manuals = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Shelf
        fields = ["id", "manuals"]


def test_a_pk_list_of_rows_with_heavy_columns_loads_the_keys_only():
    plan = plan_for(ShelfManualIdsSerializer)

    (relation,) = plan.relations
    assert relation.only == ("id", "shelf_id")
    assert relation.columns_why == "keys only: only primary keys are read"


def test_reverse_fk_without_related_name_uses_the_set_accessor():
    plan = plan_for(shapes.CityWithAddressesSerializer)

    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["address_set"]


def test_dotted_source_follows_every_segment():
    plan = plan_for(shapes.PersonDottedSourceSerializer)

    assert plan.select_related == ("address__city__country",)


def test_dotted_source_ending_in_a_to_many_prefetches_through_the_join():
    plan = plan_for(shapes.ReviewDottedSourceSerializer)

    assert plan.select_related == ("book__category",)
    assert [prefetch.prefetch_through for prefetch in plan.prefetches] == ["book__chapters"]


def test_star_source_plans_the_nested_fields_on_the_same_row():
    plan = plan_for(shapes.PersonStarSourceSerializer)

    assert plan.select_related == ("address__city__country", "passport__issued_by")


def test_meta_depth_joins_and_prefetches_each_level():
    plan = plan_for(shapes.BookDepthSerializer)

    assert plan.select_related == ("category__parent", "editor__address")
    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["authors", "labels"]
    authors = plan.prefetches[0].queryset
    assert authors.query.select_related == {"address": {}}


def test_write_only_fields_are_not_planned():
    assert plan_for(shapes.BookWriteOnlySerializer).relations == ()


def test_self_nesting_serializer_terminates_with_a_warning():
    plan = plan_for(shapes.CategoryTreeSerializer)

    assert kinds(plan) == (
        ("prefetch", "children", (("prefetch", "children", (("prefetch", "children", ()),)),)),
    )
    assert plan.warnings == (
        "CategoryTreeSerializer.children.children.children: CategoryTreeSerializer nests "
        "itself; it is planned 3 levels deep and deeper levels load on demand.",
    )


def test_multi_table_child_link_is_joined():
    plan = plan_for(shapes.PlaceSerializer)

    assert plan.select_related == ("city", "restaurant__chef")


def test_generic_foreign_key_is_prefetched_by_content_type():
    plan = plan_for(shapes.CommentWithTargetSerializer)

    assert plan.select_related == ("author",)
    (prefetch,) = plan.prefetches
    assert prefetch.prefetch_to == "content_object"
    assert prefetch.queryset is None


def test_unhinted_method_field_is_left_alone_and_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="drf_autoprefetch.planner"):
        plan = plan_for(shapes.BookUnhintedMethodSerializer)

    assert plan.relations == ()
    message = (
        "BookUnhintedMethodSerializer.review_count: method field "
        "BookUnhintedMethodSerializer.get_review_count() has no hints; decorate it with "
        "@hints(...) naming what it reads, or the queries it runs, if any, run once per row."
    )
    assert plan.warnings == (message,)
    assert caplog.messages == [f"drf_autoprefetch: {message}"]


def test_a_warning_is_logged_once_per_process_when_the_plan_is_used(caplog):
    from drf_autoprefetch.planner import quietly

    with caplog.at_level(logging.WARNING, logger="drf_autoprefetch.planner"):
        with quietly():  # as at start-up, validating decorated serializers
            plan_for(shapes.BookUnhintedMethodSerializer)
        assert caplog.messages == []
        for _ in range(3):
            plan_for(shapes.BookUnhintedMethodSerializer)
            plan_for(shapes.BookUnhintedMethodSerializer, context={"other": 1})

    assert len(caplog.messages) == 1


@override_settings(DRF_AUTOPREFETCH={"ON_UNPLANNABLE": "ignore", "INFER": False})
def test_on_unplannable_ignore_logs_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="drf_autoprefetch.planner"):
        plan = plan_for(shapes.BookUnhintedMethodSerializer)

    assert len(plan.warnings) == 1
    assert caplog.messages == []


@override_settings(DRF_AUTOPREFETCH={"ON_UNPLANNABLE": "raise", "INFER": False})
def test_on_unplannable_raise_raises_plan_error():
    with pytest.raises(PlanError) as excinfo:
        plan_for(shapes.BookUnhintedMethodSerializer)

    assert str(excinfo.value).startswith(
        "The planner cannot see through these fields (ON_UNPLANNABLE='raise'):\n"
        "- BookUnhintedMethodSerializer.review_count: method field "
        "BookUnhintedMethodSerializer.get_review_count()"
    )


def test_unhinted_property_source_is_warned_about():
    plan = plan_for(shapes.BookPropertySourceSerializer)

    assert plan.warnings == (
        "BookPropertySourceSerializer.display_title: Book.display_title is a property the "
        "planner cannot see into; decorate it with @hints(...) naming what it reads.",
    )


def test_hinted_property_source_adds_its_joins():
    plan = plan_for(shapes.PersonHintedPropertySerializer)

    assert plan.select_related == ("address__city",)
    assert plan.warnings == ()


def test_hinted_method_source_adds_its_prefetch():
    plan = plan_for(shapes.BookHintedMethodSourceSerializer)

    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["authors"]


def test_hinted_prefetch_object_keeps_its_queryset_and_to_attr():
    plan = plan_for(shapes.BookHintedPrefetchObjectMethodSerializer)

    (prefetch,) = plan.prefetches
    assert (prefetch.prefetch_through, prefetch.prefetch_to) == ("reviews", "good_reviews")
    assert prefetch.queryset.query.select_related == {"reviewer": {}}
    assert "rating" in str(prefetch.queryset.query)


def test_annotation_hint_lands_in_plan_annotations():
    plan = plan_for(shapes.BookHintedAnnotationMethodSerializer)

    assert list(plan.annotations) == ["chapter_total"]


class ReviewerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name"]


class GoodReviewSerializer(serializers.ModelSerializer):
    reviewer = ReviewerSerializer()

    class Meta:
        model = Review
        fields = ["id", "rating", "reviewer"]


class BookWithGoodReviewsSerializer(serializers.ModelSerializer):
    """A nested serializer reading the ``to_attr`` a method field's hint declares."""

    good_reviews = GoodReviewSerializer(many=True, read_only=True)
    good_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "good_reviews", "good_count"]

    @hints(
        prefetch_related=[
            Prefetch(
                "reviews",
                queryset=Review.objects.filter(rating__gte=4),
                to_attr="good_reviews",
            )
        ]
    )
    def get_good_count(self, obj):
        return len(obj.good_reviews)


def test_nested_serializer_on_a_hinted_to_attr_is_folded_into_that_prefetch():
    plan = plan_for(BookWithGoodReviewsSerializer)

    (prefetch,) = plan.prefetches
    assert prefetch.prefetch_to == "good_reviews"
    assert prefetch.queryset.query.select_related == {"reviewer": {}}
    assert "rating" in str(prefetch.queryset.query)


class BadSourceSerializer(serializers.ModelSerializer):
    nickname = serializers.CharField(source="editor.nickname")

    class Meta:
        model = Book
        fields = ["id", "nickname"]


def test_source_naming_nothing_raises_plan_error_with_field_path():
    with pytest.raises(PlanError) as excinfo:
        plan_for(BadSourceSerializer)

    assert str(excinfo.value) == (
        "BadSourceSerializer.nickname: source 'nickname' names nothing on testapp.Person. "
        "Fix the field's source; relations of Person: address, books, clubs, comments, "
        "edited_books, invitations, locker, memberships, passport, recipes, restaurants, "
        "reviews. Did you mean 'name'?"
    )


class BadHintSerializer(serializers.ModelSerializer):
    shelf = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "shelf"]

    @hints(select_related=["shelf"])
    def get_shelf(self, obj):  # pragma: no cover - never rendered
        return None


def test_hint_naming_an_unknown_relation_raises_plan_error():
    with pytest.raises(PlanError) as excinfo:
        plan_for(BadHintSerializer)

    assert str(excinfo.value) == (
        "BadHintSerializer.shelf: hint 'shelf' on BadHintSerializer.get_shelf: 'shelf' is not "
        "a relation of testapp.Book. Relations of testapp.Book: authors, category, chapters, "
        "comments, editor, labels, reviews."
    )


class SingleValuedPrefetchHintSerializer(serializers.ModelSerializer):
    category_name = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "category_name"]

    @hints(prefetch_related=[Prefetch("category", queryset=Category.objects.all())])
    def get_category_name(self, obj):  # pragma: no cover - never rendered
        return obj.category.name


def test_prefetch_hint_on_a_single_valued_relation_is_rejected():
    with pytest.raises(PlanError) as excinfo:
        plan_for(SingleValuedPrefetchHintSerializer)

    assert str(excinfo.value) == (
        "SingleValuedPrefetchHintSerializer.category_name: Prefetch('category') in the hints "
        "of SingleValuedPrefetchHintSerializer.get_category_name names a single-valued "
        "relation; use select_related=['category'] instead."
    )


def test_plain_serializer_without_model_is_rejected():
    class NoModelSerializer(serializers.Serializer):
        name = serializers.CharField()

    with pytest.raises(PlanError, match=r"^NoModelSerializer has no Meta\.model"):
        plan_for(NoModelSerializer)


def test_plans_are_cached_per_class():
    first = plan_for(shapes.BookCommentsSerializer)

    assert plan_for(shapes.BookCommentsSerializer) is first


def test_plans_are_values():
    first = plan_for(shapes.BookDepthSerializer)
    clear_cache()
    second = plan_for(shapes.BookDepthSerializer)

    assert first is not second
    assert first == second
    assert str(first) == str(second)
    assert first.as_dict() == second.as_dict()


class FieldsFromContextSerializer(serializers.ModelSerializer):
    """Drops the nested editor unless the context asks for it."""

    editor = ReviewerSerializer()

    class Meta:
        model = Book
        fields = ["id", "editor"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.context.get("with_editor"):
            self.fields.pop("editor")


def test_context_dependent_fields_get_one_plan_per_selection():
    with_editor = plan_for(FieldsFromContextSerializer, context={"with_editor": True})
    without = plan_for(FieldsFromContextSerializer, context={})

    assert with_editor.select_related == ("editor",)
    assert without.select_related == ()
    assert plan_for(FieldsFromContextSerializer, context={"with_editor": True}) is with_editor


def test_static_serializer_is_planned_once_whatever_the_context():
    from drf_autoprefetch import planner

    first = plan_for(shapes.BookDepthSerializer, context={"request": None})
    again = plan_for(shapes.BookDepthSerializer, context={"other": 1})

    assert again is first
    assert planner.build_count == 1
    assert shapes.BookDepthSerializer not in planner._variance


class MissingManySerializer(serializers.ModelSerializer):
    reviews = GoodReviewSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "reviews"]


def test_nested_serializer_on_a_to_many_relation_needs_many_true():
    with pytest.raises(PlanError) as excinfo:
        plan_for(MissingManySerializer)

    assert str(excinfo.value) == (
        "MissingManySerializer.reviews: reviews is a to-many relation of testapp.Book; "
        "declare the nested serializer with many=True."
    )


def test_plans_merge_with_or_into_one_tree():
    editor = plan_for(shapes.BookEditorSerializer)
    authors = plan_for(shapes.BookWithAuthorsSerializer)

    merged = editor | authors

    assert merged.select_related == ("category", "editor__address__city__country")
    assert [prefetch.prefetch_to for prefetch in merged.prefetches] == ["authors"]
    assert merged == authors | editor
    with pytest.raises(ValueError, match=r"^Cannot merge a plan for testapp\.Person"):
        editor | plan_for(shapes.PersonWithAddressSerializer)


def test_str_and_as_dict_describe_the_same_tree():
    import json

    plan = plan_for(shapes.BookHintedPrefetchObjectMethodSerializer)

    assert str(plan) == (
        "testapp.Book\n  prefetch reviews as good_reviews (testapp.Review) [queryset from hints]"
    )
    assert json.loads(json.dumps(plan.as_dict())) == {
        "model": "testapp.Book",
        "select_related": [],
        "annotations": [],
        "only": None,
        "queries": 2,
        "relations": [
            {
                "kind": "prefetch",
                "lookup": "reviews",
                "to_attr": "good_reviews",
                "model": "testapp.Review",
                "only": None,
                "annotations": [],
                "queryset_from_hints": True,
                "plain": False,
                "split": False,
                "inferred_from": None,
                "relations": [],
            }
        ],
        "warnings": [],
    }
