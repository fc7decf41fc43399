"""Shapes met in public DRF applications: never break a working endpoint, never change
an answer.

Each test renders the same rows with and without the library and compares the JSON,
and pins the number of queries the optimized rendering runs.
"""

from __future__ import annotations

import json
import warnings

import pytest
from django.db import connection
from django.db.models import Avg, Count, Max, Min, Prefetch, Q, Sum
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework import generics, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from taggit.models import Tag
from taggit.serializers import TagListSerializerField

from drf_autoprefetch import AutoPrefetchMixin, PlanError, auto_prefetch, hints, optimize, plan_for
from drf_autoprefetch.checks import check_serializer
from drf_autoprefetch.tree import Kind
from tests.testapp.models import (
    Article,
    Book,
    Category,
    Chapter,
    Label,
    Parcel,
    Person,
    Recipe,
    Review,
    Warehouse,
)

pytestmark = pytest.mark.django_db


def render(serializer_class, rows, **kwargs):
    return json.dumps(serializer_class(rows, many=True, **kwargs).data, sort_keys=True, default=str)


def optimized(serializer_class, queryset, **kwargs):
    """The optimized rendering and the queries it ran (the plan's included)."""
    with CaptureQueriesContext(connection) as captured:
        data = render(serializer_class, optimize(queryset, serializer_class), **kwargs)
    return data, len(captured)


# ------------------------------------------------------------ 1. names DRF accepts


class RegionSerializer(serializers.ModelSerializer):
    """Like NetBox's nested Region: counts another endpoint annotates."""

    site_count = serializers.IntegerField(read_only=True, default=0)
    book_total = serializers.ReadOnlyField()

    class Meta:
        model = Category
        fields = ["id", "name", "site_count", "book_total"]


class BookInRegionSerializer(serializers.ModelSerializer):
    category = RegionSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category"]


def test_nested_read_only_fields_naming_nothing_are_warnings_not_errors(world):
    plan = plan_for(BookInRegionSerializer)

    data, count = optimized(BookInRegionSerializer, Book.objects.all())

    assert data == render(BookInRegionSerializer, Book.objects.all())
    assert count == plan.query_count == 1
    assert plan.select_related == ("category",)
    assert plan.warnings == (
        "BookInRegionSerializer.category.site_count: source 'site_count' names nothing on "
        "testapp.Category; the field is left unoptimized (DRF renders its default, or leaves "
        "it out, where the attribute is missing). If it is a typo, fix the source.",
        "BookInRegionSerializer.category.book_total: source 'book_total' names nothing on "
        "testapp.Category; the field is left unoptimized (DRF renders its default, or leaves "
        "it out, where the attribute is missing). If it is a typo, fix the source.",
    )


def test_check_reports_a_read_only_field_naming_nothing_as_a_warning():
    messages = check_serializer(BookInRegionSerializer)

    assert [message.id for message in messages] == ["drf_autoprefetch.W001"] * 2


class TicketSerializer(serializers.ModelSerializer):
    """Like a helpdesk ticket: the view sets a value on each row it serializes."""

    priority_label = serializers.CharField()
    reviews = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    category = RegionSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "priority_label", "reviews", "category"]


def _rows_with_labels():
    rows = Book.objects.all()
    for row in rows:  # the view reads the rows and sets an attribute on each
        row.priority_label = f"P{row.pk % 3}"
    return rows


def test_rows_a_view_holds_keep_their_attributes_and_get_the_plan(world):
    expected = render(TicketSerializer, _rows_with_labels())
    rows = _rows_with_labels()

    data, count = optimized(TicketSerializer, rows)

    assert data == expected
    assert count == 2  # reviews, categories: onto the rows held, none read again
    assert optimize(rows, TicketSerializer) is rows


def test_a_list_of_instances_gets_the_plan_prefetched_onto_it(world):
    rows = list(_rows_with_labels())
    expected = render(TicketSerializer, list(_rows_with_labels()))

    data, count = optimized(TicketSerializer, rows)

    assert data == expected
    assert count == 2


def test_required_field_naming_nothing_is_still_an_error_without_such_rows(world):
    with pytest.raises(PlanError) as excinfo:
        optimize(Book.objects.all(), TicketSerializer)

    assert str(excinfo.value) == (
        "TicketSerializer.priority_label: source 'priority_label' names nothing on "
        "testapp.Book. Fix the field's source; relations of Book: authors, category, "
        "chapters, comments, editor, labels, reviews. (An annotation of that name on the "
        "queryset the plan is applied to is accepted.)"
    )


class ExtraFieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shelf"] = serializers.CharField(read_only=True, source="shelf_code")


def test_field_added_in_init_naming_nothing_is_a_warning(world):
    data, count = optimized(ExtraFieldSerializer, Book.objects.all())

    assert data == render(ExtraFieldSerializer, Book.objects.all())
    assert count == 1
    (warning,) = plan_for(ExtraFieldSerializer).warnings
    assert warning.startswith("ExtraFieldSerializer.shelf: source 'shelf_code' names nothing")


# ------------------------------------------------------------ 2. django-taggit


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["name", "slug"]


class ArticleSerializer(serializers.ModelSerializer):
    tags = TagSerializer(many=True, read_only=True)

    class Meta:
        model = Article
        fields = ["id", "title", "tags"]


class ArticleTagListSerializer(serializers.ModelSerializer):
    tags = TagListSerializerField()

    class Meta:
        model = Article
        fields = ["id", "title", "tags"]


@pytest.fixture
def articles(db):
    for index in range(4):
        article = Article.objects.create(title=f"Article {index}")
        article.tags.add(*[f"tag{tag}" for tag in range(index)])


def _sorted_tags(data):
    rows = json.loads(data)
    for row in rows:
        row["tags"] = sorted(row["tags"], key=json.dumps)
    return rows


@pytest.mark.parametrize("serializer_class", [ArticleSerializer, ArticleTagListSerializer])
def test_taggit_tags_are_prefetched_by_their_plain_lookup(articles, serializer_class):
    plan = plan_for(serializer_class)

    data, count = optimized(serializer_class, Article.objects.all())

    assert _sorted_tags(data) == _sorted_tags(render(serializer_class, Article.objects.all()))
    assert count == plan.query_count == 2
    assert plan.prefetches == ("tags",)
    assert plan.warnings == ()


# ------------------------------------------------- 3. primary keys rendered as objects


class SerializedPKRelatedField(serializers.PrimaryKeyRelatedField):
    """Like NetBox's: written as keys, read as nested objects."""

    def __init__(self, serializer, **kwargs):
        self.serializer = serializer
        super().__init__(**kwargs)

    def to_representation(self, value):
        return self.serializer(value, context=self.context).data


class LabelNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name"]


class BookLabelsAsObjectsSerializer(serializers.ModelSerializer):
    labels = SerializedPKRelatedField(
        serializer=LabelNameSerializer, many=True, queryset=Label.objects.all()
    )

    class Meta:
        model = Book
        fields = ["id", "title", "labels"]


def test_pk_field_rendering_objects_gets_whole_rows(world):
    (relation,) = plan_for(BookLabelsAsObjectsSerializer).relations

    data, count = optimized(BookLabelsAsObjectsSerializer, Book.objects.all())

    assert data == render(BookLabelsAsObjectsSerializer, Book.objects.all())
    assert count == 2  # books, labels: no deferred column loaded per label
    assert relation.only is None


# ------------------------------------------------------- 4. the user's queryset


class CategoryWithParentSerializer(serializers.ModelSerializer):
    parent = RegionSerializer(read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent"]


class BookCategorySerializer(serializers.ModelSerializer):
    category = CategoryWithParentSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "isbn", "category"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Book.objects.only("title"),
        lambda: Book.objects.only("title", "category__name"),
        lambda: Book.objects.defer("category", "isbn"),
        lambda: Book.objects.defer("category__parent"),
    ],
    ids=["only", "only-related", "defer", "defer-related"],
)
def test_only_and_defer_keep_what_the_plan_traverses_and_the_fields_read(world, make):
    data, count = optimized(BookCategorySerializer, make())

    assert data == render(BookCategorySerializer, Book.objects.all())
    assert count == 1


def test_union_gets_the_plan_as_prefetches(world):
    queryset = (
        Book.objects.filter(editor__isnull=True)
        .order_by()
        .union(Book.objects.filter(editor__isnull=False).order_by())
    )

    data, count = optimized(BookCategorySerializer, queryset)

    assert sorted(json.loads(data), key=lambda row: row["id"]) == sorted(
        json.loads(render(BookCategorySerializer, queryset)), key=lambda row: row["id"]
    )
    assert count == 2  # the union, categories with their parents joined


class BookEditorCategorySerializer(serializers.ModelSerializer):
    category = CategoryWithParentSerializer(read_only=True)
    editor = serializers.StringRelatedField()

    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor"]


def select_every_foreign_key(queryset):
    """``select_related()`` with no argument (deprecated since Django 6.0, still served)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Calling select_related\(\) with no arg")
        return queryset.select_related()


def test_select_related_with_no_argument_is_kept(world):
    queryset = optimize(select_every_foreign_key(Book.objects.all()), BookEditorCategorySerializer)

    with CaptureQueriesContext(connection) as captured:
        data = render(BookEditorCategorySerializer, queryset)

    assert data == render(BookEditorCategorySerializer, Book.objects.all())
    assert queryset.query.select_related is True
    # Every non-null key joined by the user's select_related(); the nullable editor and
    # category parent by queries of their own.
    assert len(captured) == 3


# -------------------------------------------------------------- 5. aggregates


class LabelCountSerializer(serializers.ModelSerializer):
    n_books = serializers.SerializerMethodField()

    class Meta:
        model = Label
        fields = ["id", "name", "n_books"]

    @hints(annotate={"n_books": Count("books")})
    def get_n_books(self, label):
        return label.n_books if hasattr(label, "n_books") else label.books.count()


class BookLabelCountsSerializer(serializers.ModelSerializer):
    labels = LabelCountSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "labels"]


def test_hinted_count_under_a_many_to_many_prefetch_counts_every_row(world):
    data, count = optimized(BookLabelCountsSerializer, Book.objects.all())

    assert data == render(BookLabelCountsSerializer, Book.objects.all())
    assert count == 2
    counts = {label["n_books"] for book in json.loads(data) for label in book["labels"]}
    assert max(counts) > 1


class BookReviewCountSerializer(serializers.ModelSerializer):
    n_reviews = serializers.SerializerMethodField()
    n_chapters = serializers.IntegerField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "n_reviews", "n_chapters"]

    @hints(annotate={"n_reviews": Count("reviews", distinct=True)})
    def get_n_reviews(self, book):
        return book.n_reviews if hasattr(book, "n_reviews") else book.reviews.count()


def test_hinted_count_beside_the_views_own_aggregate_changes_neither(world):
    queryset = Book.objects.annotate(n_chapters=Count("chapters")).order_by("title", "id")

    data, count = optimized(BookReviewCountSerializer, queryset)

    assert data == render(BookReviewCountSerializer, queryset)
    assert count == 1
    chapters = {book.pk: book.chapters.count() for book in Book.objects.all()}
    assert {row["id"]: row["n_chapters"] for row in json.loads(data)} == chapters


def test_hinted_count_skips_rows_the_related_default_manager_hides(world):
    data, _ = optimized(BookReviewCountSerializer, Book.objects.annotate(n_chapters=Count("id")))

    alive = {book.pk: Review.objects.filter(book=book).count() for book in Book.objects.all()}
    assert {row["id"]: row["n_reviews"] for row in json.loads(data)} == alive
    assert Review.all_objects.count() > Review.objects.count()


class FilteredCountSerializer(serializers.ModelSerializer):
    n_good = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "n_good"]

    @hints(annotate={"n_good": Count("reviews", filter=Q(reviews__rating__gte=3))})
    def get_n_good(self, book):
        if hasattr(book, "n_good"):
            return book.n_good
        return book.reviews.filter(rating__gte=3).count()


def test_hinted_count_with_a_filter_counts_as_the_related_manager(world):
    data, count = optimized(FilteredCountSerializer, Book.objects.all())

    assert data == render(FilteredCountSerializer, Book.objects.all())
    assert count == 1


class RecipeSerializer(serializers.ModelSerializer):
    n_cooks = serializers.SerializerMethodField()

    class Meta:
        model = Recipe
        fields = ["id", "name", "n_cooks"]

    @hints(annotate={"n_cooks": Count("cooks")})
    def get_n_cooks(self, recipe):
        return recipe.n_cooks if hasattr(recipe, "n_cooks") else recipe.cooks.count()


def test_hinted_count_keeps_the_order_of_an_unordered_queryset(world):
    people = list(Person.objects.all())
    for index, name in enumerate(["pie", "bread", "soup", "cake", "stew"]):
        recipe = Recipe.objects.create(name=name)
        recipe.cooks.set(people[: index % 3])

    with CaptureQueriesContext(connection) as captured:
        data = render(RecipeSerializer, optimize(Recipe.objects.all(), RecipeSerializer))

    assert data == render(RecipeSerializer, Recipe.objects.all())
    assert len(captured) == 1
    outer = captured[0]["sql"].rsplit(")", 1)[-1]  # after the correlated subquery
    assert "GROUP BY" not in outer


def test_hinted_count_is_computed_for_rows_a_view_holds(world):
    rows = list(Book.objects.all())

    data, count = optimized(FilteredCountSerializer, rows)

    assert data == render(FilteredCountSerializer, Book.objects.all())
    assert count == 1  # the annotations of every row, in one query


# -------------------------------------------------------- 6. no row lost to a join


class WarehouseSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="get_kind_display")

    class Meta:
        model = Warehouse
        fields = ["id", "name", "kind"]


class ParcelSerializer(serializers.ModelSerializer):
    warehouse = WarehouseSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Parcel
        fields = ["id", "label", "warehouse"]


@pytest.fixture
def parcels(db):
    kept = Warehouse.objects.create(name="North", kind="depot")
    for index in range(6):
        # Every other parcel names a warehouse that does not exist.
        warehouse_id = kept.pk if index % 2 else kept.pk + 1000
        Parcel.objects.create(label=f"parcel {index}", warehouse_id=warehouse_id)


def test_a_query_of_its_own_for_many_distinct_targets_stays_under_the_backends_limits(db):
    """Django 5.2 filters a forward relation's prefetch with a tuple ``IN``, which SQLite
    gets as a chain of ``OR``; past about a thousand keys SQLite refused it ("Expression
    tree is too large"), where rendering row by row worked."""
    warehouses = Warehouse.objects.bulk_create(
        Warehouse(name=f"Warehouse {index:04d}") for index in range(1200)
    )
    Parcel.objects.bulk_create(
        Parcel(label=f"parcel {index:04d}", warehouse_id=warehouse.pk)
        for index, warehouse in enumerate(warehouses)
    )

    data, count = optimized(ParcelSerializer, Parcel.objects.all())

    assert data == render(ParcelSerializer, Parcel.objects.all())
    # 1,200 keys in queries of 500 where the backend spells a tuple IN as a chain of OR.
    chained = not getattr(connection.features, "supports_tuple_lookups", True)
    assert count == plan_for(ParcelSerializer).query_count + (2 if chained else 0)


def test_unconstrained_key_to_a_missing_row_keeps_every_root_row(parcels):
    plan = plan_for(ParcelSerializer)

    data, count = optimized(ParcelSerializer, Parcel.objects.all())

    assert data == render(ParcelSerializer, Parcel.objects.all())
    assert len(json.loads(data)) == 6
    assert [row["warehouse"] for row in json.loads(data)].count(None) == 3
    assert count == plan.query_count == 2
    (relation,) = plan.relations
    assert relation.kind is Kind.PREFETCH_ONE


def test_get_field_display_reads_a_column_without_warning():
    assert plan_for(WarehouseSerializer).warnings == ()
    assert plan_for(WarehouseSerializer).columns == ("id", "name", "kind")


# --------------------------------------------------------------- 7. no silent miss


class BookWithCategoryNameSerializer(serializers.ModelSerializer):
    """Reads a relation in its own to_representation."""

    class Meta:
        model = Book
        fields = ["id", "title"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["category"] = instance.category.name
        return data


class HintedBookWithCategoryNameSerializer(BookWithCategoryNameSerializer):
    @hints(select_related=["category"])
    def to_representation(self, instance):
        return super().to_representation(instance)


@pytest.mark.usefixtures("no_inference")
def test_serializer_overriding_to_representation_is_a_warning():
    assert plan_for(BookWithCategoryNameSerializer).warnings == (
        "BookWithCategoryNameSerializer: BookWithCategoryNameSerializer overrides "
        "to_representation, which the planner cannot see into; what it reads beyond the "
        "declared fields runs once per row. Decorate "
        "BookWithCategoryNameSerializer.to_representation (or the class) with @hints(...) "
        "naming what it reads, or bare @hints() if it reads no relation.",
    )


def test_hints_on_a_serializers_to_representation_plan_what_it_reads(world):
    serializer_class = HintedBookWithCategoryNameSerializer

    data, count = optimized(serializer_class, Book.objects.all())

    assert data == render(serializer_class, Book.objects.all())
    assert count == plan_for(serializer_class).query_count == 1
    assert plan_for(serializer_class).warnings == ()


class CityWithCountryField(serializers.RelatedField):
    """Reads a deeper relation of the object it is given."""

    def to_representation(self, value):
        return f"{value.street} ({value.city.country.name})"


@hints(select_related=["city__country"])
class HintedCityWithCountryField(CityWithCountryField):
    pass


class CityNameField(serializers.Field):
    """A plain field reading a relation of the object it is given."""

    def to_representation(self, value):
        return value.city.name


class PersonPlaceSerializer(serializers.ModelSerializer):
    address = CityWithCountryField(read_only=True)
    home = CityNameField(source="address", read_only=True)

    class Meta:
        model = Person
        fields = ["id", "name", "address", "home"]


class HintedPersonPlaceSerializer(serializers.ModelSerializer):
    address = HintedCityWithCountryField(read_only=True)

    class Meta:
        model = Person
        fields = ["id", "name", "address"]


@pytest.mark.usefixtures("no_inference")
def test_custom_fields_reading_deeper_relations_are_warnings():
    assert plan_for(PersonPlaceSerializer).warnings == (
        "PersonPlaceSerializer.address: CityWithCountryField has its own to_representation, "
        "which the planner cannot see into; what it reads beyond the declared fields runs "
        "once per row. Decorate CityWithCountryField.to_representation (or the class) with "
        "@hints(...) naming what it reads, or bare @hints() if it reads no relation.",
        "PersonPlaceSerializer.home: CityNameField has its own to_representation, which the "
        "planner cannot see into; what it reads beyond the declared fields runs once per "
        "row. Decorate CityNameField.to_representation (or the class) with @hints(...) "
        "naming what it reads, or bare @hints() if it reads no relation.",
    )


def test_hints_on_a_custom_field_class_plan_what_it_reads(world):
    queryset = Person.objects.filter(address__isnull=False)

    data, count = optimized(HintedPersonPlaceSerializer, queryset)

    assert data == render(HintedPersonPlaceSerializer, queryset)
    assert count == plan_for(HintedPersonPlaceSerializer).query_count == 1
    assert plan_for(HintedPersonPlaceSerializer).select_related == ("address__city__country",)


# ------------------------------------------------------ 9. warnings one can act on


class ChapterTitleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "title"]


class BookCountsSerializer(serializers.ModelSerializer):
    n_chapters = serializers.IntegerField(source="chapters.count", read_only=True)
    has_reviews = serializers.BooleanField(source="reviews.exists", read_only=True)
    chapter_list = ChapterTitleSerializer(source="chapters.all", many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "n_chapters", "has_reviews", "chapter_list"]


def test_count_exists_and_all_on_a_to_many_source_are_served_by_its_prefetch(world):
    plan = plan_for(BookCountsSerializer)

    data, count = optimized(BookCountsSerializer, Book.objects.all())

    assert data == render(BookCountsSerializer, Book.objects.all())
    assert count == plan.query_count == 3
    assert plan.warnings == ()


class BookChapterIdsSerializer(serializers.ModelSerializer):
    chapter_ids = serializers.PrimaryKeyRelatedField(
        source="chapters.all", many=True, read_only=True
    )

    class Meta:
        model = Book
        fields = ["id", "chapter_ids"]


def test_related_field_list_on_all_says_what_to_write_instead():
    assert plan_for(BookChapterIdsSerializer).warnings == (
        "BookChapterIdsSerializer.chapter_ids: DRF calls .all() again on what "
        "source='chapters.all' returns, which reads the rows once per row whatever was "
        "prefetched; write source='chapters'.",
    )


class DisplayMixin(serializers.Serializer):
    display = serializers.SerializerMethodField()

    def get_display(self, obj):
        return str(obj)


class NestedChapterSerializer(DisplayMixin, serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "display"]


class NestedLabelSerializer(DisplayMixin, serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "display"]


class BookDisplaySerializer(DisplayMixin, serializers.ModelSerializer):
    chapters = NestedChapterSerializer(many=True)
    labels = NestedLabelSerializer(many=True)
    display_title = serializers.CharField()

    class Meta:
        model = Book
        fields = ["id", "display", "chapters", "labels", "display_title"]


@pytest.mark.usefixtures("no_inference")
def test_an_inherited_method_is_one_warning_listing_the_fields_it_affects():
    assert plan_for(BookDisplaySerializer).warnings == (
        "BookDisplaySerializer.display, BookDisplaySerializer.chapters.display, "
        "BookDisplaySerializer.labels.display: method field DisplayMixin.get_display() has no "
        "hints; decorate it with @hints(...) naming what it reads, or the queries it runs, if "
        "any, run once per row.",
        "BookDisplaySerializer.display_title: Book.display_title is a property the planner "
        "cannot see into; decorate it with @hints(...) naming what it reads.",
    )


def test_prefetch_in_hints_is_kept_through_the_rows_path(world):
    liked = Prefetch("reviews", queryset=Review.objects.filter(rating__gte=3), to_attr="liked")

    class GoodReviewsSerializer(serializers.ModelSerializer):
        good = serializers.SerializerMethodField()

        class Meta:
            model = Book
            fields = ["id", "good"]

        @hints(prefetch_related=[liked])
        def get_good(self, book):
            reviews = getattr(book, "liked", None)
            if reviews is None:
                reviews = book.reviews.filter(rating__gte=3)
            return sorted(review.pk for review in reviews)

    rows = list(Book.objects.all())

    data, count = optimized(GoodReviewsSerializer, rows)

    assert data == render(GoodReviewsSerializer, Book.objects.all())
    assert count == 1


# ------------------------------------------------ list serializers and other views


class ChapterListReadingElsewhere(serializers.ListSerializer):
    """Ignores the rows it is given and queries its own (as some applications do)."""

    def to_representation(self, data):
        book = data.instance
        return [{"id": chapter.pk} for chapter in Chapter.objects.filter(book=book)]


class ChapterIdSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id"]
        list_serializer_class = ChapterListReadingElsewhere


class BookOwnChapterListSerializer(serializers.ModelSerializer):
    chapters = ChapterIdSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "chapters"]


def test_list_serializer_of_its_own_loads_nothing_and_is_a_warning(world):
    plan = plan_for(BookOwnChapterListSerializer)

    assert plan.relations == ()
    assert plan.warnings == (
        "BookOwnChapterListSerializer.chapters: ChapterListReadingElsewhere overrides "
        "to_representation, which the planner cannot see into; the relation is left to it, "
        "not loaded for it. Decorate ChapterListReadingElsewhere.to_representation (or the "
        "class) with @hints(...) naming what it reads, or bare @hints() if it renders the "
        "rows it is given.",
    )
    with CaptureQueriesContext(connection) as naive:
        expected = render(BookOwnChapterListSerializer, Book.objects.all())
    data, count = optimized(BookOwnChapterListSerializer, Book.objects.all())
    assert data == expected
    assert count == len(naive)


class PriceSerializer(serializers.Serializer):
    """Renders something computed from a row, not the row: no model to plan for."""

    price = serializers.DecimalField(max_digits=6, decimal_places=2)


def test_optimize_with_a_serializer_without_a_model_returns_the_queryset_unchanged():
    queryset = Book.objects.all()

    assert optimize(queryset, PriceSerializer) is queryset


class RowList(list):
    """A list of rows with extra attributes, as some views return from get_queryset()."""

    model = Book


def test_optimize_accepts_a_list_subclass_holding_rows(world):
    rows = RowList(Book.objects.all())

    data, count = optimized(BookInRegionSerializer, rows)

    assert data == render(BookInRegionSerializer, Book.objects.all())
    assert count == 1  # the categories, onto the rows held


class TypeField(serializers.Field):
    """Like wagtail's: hands itself the whole object, whatever its source says."""

    def get_attribute(self, instance):
        return instance

    def to_representation(self, obj):
        return obj._meta.label


class BookTypeSerializer(serializers.ModelSerializer):
    type = TypeField(read_only=True)
    kind = TypeField(read_only=True, source="no_such_name")

    class Meta:
        model = Book
        fields = ["id", "type", "kind"]


def test_field_with_its_own_get_attribute_is_not_followed_by_its_source(world):
    plan = plan_for(BookTypeSerializer)

    data, count = optimized(BookTypeSerializer, Book.objects.all())

    assert data == render(BookTypeSerializer, Book.objects.all())
    assert count == 1
    assert plan.warnings == (
        "BookTypeSerializer.type, BookTypeSerializer.kind: TypeField overrides get_attribute, "
        "so it receives the whole object and the planner cannot see what it reads; it is "
        "left unoptimized. Decorate its to_representation or get_attribute (or the class) "
        "with @hints(...) naming what it reads.",
    )


def test_parent_rows_with_a_child_serializer_are_left_as_they_are(world):
    from tests.testapp.models import Place
    from tests.testapp.serializers import RestaurantSerializer

    queryset = Place.objects.all()

    assert optimize(queryset, RestaurantSerializer) is queryset


def test_plans_of_classes_made_per_request_are_not_kept():
    import gc

    from drf_autoprefetch import planner

    before = len(planner._static)
    for index in range(20):
        made = type(f"Made{index}", (LabelNameSerializer,), {"Meta": LabelNameSerializer.Meta})
        plan_for(made)
    del made
    gc.collect()

    assert len(planner._static) <= before + 1


# ------------------------------------------- rows in hand, through views and decorator


class OptionalTicketSerializer(TicketSerializer):
    """As django-helpdesk declares the values its view sets: not required."""

    priority_label = serializers.CharField(required=False)

    class Meta(TicketSerializer.Meta):
        pass


class TicketViewSet(viewsets.ReadOnlyModelViewSet):
    """Like django-helpdesk's: reads the rows and sets a value on each."""

    serializer_class = OptionalTicketSerializer

    def get_queryset(self):
        return _rows_with_labels()


def _list(viewset):
    view = viewset.as_view({"get": "list"})
    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get("/tickets/"))
    assert response.status_code == 200, response.data
    return json.dumps(response.data, sort_keys=True, default=str), len(captured)


def test_view_holding_its_rows_keeps_them_through_the_mixin(world):
    optimized_view = type("OptimizedTickets", (AutoPrefetchMixin, TicketViewSet), {})
    expected, naive_count = _list(TicketViewSet)

    data, count = _list(optimized_view)

    assert data == expected
    assert count == 3  # the rows (read by the view), reviews, categories
    assert naive_count > count


def test_decorated_serializer_leaves_rows_in_hand_as_they_are(world):
    # A required field reading what the view sets: a start-up error unless not validated.
    decorated = auto_prefetch(validate=False)(
        type("DecoratedTicketSerializer", (TicketSerializer,), {"Meta": TicketSerializer.Meta})
    )
    rows = _rows_with_labels()
    expected = render(TicketSerializer, _rows_with_labels())

    with CaptureQueriesContext(connection) as captured:
        data = render(decorated, rows)

    assert data == expected
    assert all("testapp_book" not in query["sql"].split("FROM")[1][:20] for query in captured)


class ObjectChosenSerializerViewSet(viewsets.ReadOnlyModelViewSet):
    """Like wagtail's pages API: the serializer depends on the object the URL names."""

    queryset = Book.objects.all()

    def get_serializer_class(self):
        if self.action == "list":
            return BookInRegionSerializer
        self.get_object()  # needs the URL's pk
        return BookInRegionSerializer

    @action(detail=False)
    def find(self, request):
        return Response({"count": self.get_queryset().count()})


def test_view_whose_serializer_needs_the_object_serves_other_actions_unoptimized(world):
    view = type("Optimized", (AutoPrefetchMixin, ObjectChosenSerializerViewSet), {})
    find = view.as_view({"get": "find"}, **view.find.kwargs)

    response = find(APIRequestFactory().get("/books/find/"))

    assert response.status_code == 200
    assert response.data == {"count": Book.objects.count()}


def test_mixin_asks_for_the_serializer_class_once_per_get_queryset(world, monkeypatch):
    view = type("Optimized", (AutoPrefetchMixin, TicketViewSet), {})
    calls = []
    original = view.get_serializer_class
    monkeypatch.setattr(
        view, "get_serializer_class", lambda self: calls.append(1) or original(self)
    )

    _list(view)

    assert len(calls) == 2  # the plan's, then the one rendering the page


class CustomFieldsSerializer(serializers.ModelSerializer):
    """Like django-helpdesk's: fields built from rows of the database in ``__init__``."""

    class Meta:
        model = Book
        fields = ["id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for label in Label.objects.all():
            self.fields[f"custom_{label.pk}"] = serializers.CharField(required=False)


def test_check_of_a_serializer_querying_an_unready_database_says_so(monkeypatch):
    from django.db import OperationalError

    def failing(*args, **kwargs):
        raise OperationalError("no such table: testapp_label")

    monkeypatch.setattr(Label.objects, "all", failing)

    (warning,) = check_serializer(CustomFieldsSerializer)

    assert warning.id == "drf_autoprefetch.W002"
    assert warning.msg == (
        "tests.test_real_world.CustomFieldsSerializer could not be planned: building it "
        "queried the database, which failed (OperationalError: no such table: "
        "testapp_label); run the checks once the database is migrated"
    )


def _retrieve(viewset, pk):
    view = viewset.as_view({"get": "retrieve"})
    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get(f"/tickets/{pk}/"), pk=pk)
    assert response.status_code == 200, response.data
    return json.dumps(response.data, sort_keys=True, default=str), len(captured)


def test_detail_view_holding_its_rows_plans_the_one_row_it_renders(world):
    optimized_view = type("OptimizedTickets", (AutoPrefetchMixin, TicketViewSet), {})
    pk = Book.objects.first().pk
    expected, naive_count = _retrieve(TicketViewSet, pk)

    data, count = _retrieve(optimized_view, pk)

    assert data == expected
    # The rows the view reads, the one row get_object() reads, its reviews and category:
    # nothing is loaded for the other rows the view held.
    assert count == 4
    assert count <= naive_count


def test_applying_a_plan_twice_to_rows_in_hand_equals_applying_it_once(world):
    rows = _rows_with_labels()

    optimize(optimize(rows, TicketSerializer), TicketSerializer)

    with CaptureQueriesContext(connection) as captured:
        data = render(TicketSerializer, rows)
    assert data == render(TicketSerializer, _rows_with_labels())
    assert len(captured) == 0


class RelatedField(serializers.RelatedField):
    """Named like DRF's own class, as some applications name theirs."""

    def to_representation(self, value):
        return value.name


class BaseRenderingSerializer(serializers.ModelSerializer):
    def to_representation(self, instance):
        return super().to_representation(instance)


class CategoryRenderingSerializer(BaseRenderingSerializer):
    books = RelatedField(many=True, read_only=True)

    class Meta:
        model = Category
        fields = ["id", "books"]


@pytest.mark.usefixtures("no_inference")
def test_warnings_name_the_class_defining_the_code_and_qualify_drf_names():
    assert plan_for(CategoryRenderingSerializer).warnings == (
        "CategoryRenderingSerializer: CategoryRenderingSerializer overrides "
        "to_representation, which the planner cannot see into; what it reads beyond the "
        "declared fields runs once per row. Decorate "
        "BaseRenderingSerializer.to_representation (or the class) with @hints(...) naming "
        "what it reads, or bare @hints() if it reads no relation.",
        "CategoryRenderingSerializer.books: tests.test_real_world.RelatedField has its own "
        "to_representation, which the planner cannot see into; what it reads beyond the "
        "declared fields runs once per row. Decorate "
        "tests.test_real_world.RelatedField.to_representation (or the class) with "
        "@hints(...) naming what it reads, or bare @hints() if it reads no relation.",
    )


class AbstractBookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book


def test_plan_for_a_list_serializer_or_an_unbuildable_one_is_a_plan_error():
    with pytest.raises(PlanError) as listed:
        plan_for(ChapterListReadingElsewhere)
    with pytest.raises(PlanError) as abstract:
        plan_for(AbstractBookSerializer)

    assert str(listed.value) == (
        "ChapterListReadingElsewhere is a list serializer; plan the serializer of one row "
        "instead (plan_for(BookSerializer) serves BookSerializer(many=True))."
    )
    assert str(abstract.value).startswith(
        "AbstractBookSerializer cannot be planned: DRF refuses to build its fields: Creating "
        "a ModelSerializer without either the 'fields' attribute or the 'exclude' attribute"
    )


@pytest.mark.usefixtures("no_inference")
@override_settings(ROOT_URLCONF="tests.shared_cause_urls")
def test_check_lists_an_inherited_method_once_with_every_serializer_it_affects():
    from drf_autoprefetch.checks import check_plans

    warnings_found = [message.msg for message in check_plans() if message.id.endswith("W001")]

    assert warnings_found == [
        "BookDisplaySerializer.display, BookDisplaySerializer.chapters.display, "
        "BookDisplaySerializer.labels.display and 1 more (in BookDisplaySerializer, "
        "NestedChapterSerializer): method field "
        "DisplayMixin.get_display() has no hints; decorate it with @hints(...) naming what "
        "it reads, or the queries it runs, if any, run once per row.",
        "BookDisplaySerializer.display_title: Book.display_title is a property the planner "
        "cannot see into; decorate it with @hints(...) naming what it reads.",
    ]


class QueryingChooserViewSet(viewsets.ReadOnlyModelViewSet):
    """Reads its queryset to choose a serializer (wagtail checks view restrictions)."""

    queryset = Book.objects.all()

    def get_serializer_class(self):
        self.get_queryset().exists()
        return BookInRegionSerializer


def test_queryset_read_to_choose_the_serializer_is_not_planned(world):
    optimized_view = type("OptimizedChooser", (AutoPrefetchMixin, QueryingChooserViewSet), {})
    expected, naive_count = _list(QueryingChooserViewSet)

    data, count = _list(optimized_view)

    assert data == expected
    # Plain: one EXISTS, the books, a category per book. Optimized: the books joined to
    # their categories and two EXISTS (the plan asks the view for its serializer class
    # once); the queryset read to choose the serializer is never planned itself.
    assert (naive_count, count) == (6, 3)


# ------------------------------------------------------------------- inference


def test_a_serializers_to_representation_is_read_and_planned(world):
    plan = plan_for(BookWithCategoryNameSerializer)

    data, count = optimized(BookWithCategoryNameSerializer, Book.objects.all())

    assert data == render(BookWithCategoryNameSerializer, Book.objects.all())
    assert count == plan.query_count == 1
    assert plan.select_related == ("category",)
    assert plan.warnings == ()
    assert str(plan) == (
        "testapp.Book\n"
        "  select category (testapp.Category) [inferred from "
        "BookWithCategoryNameSerializer.to_representation]"
    )


def test_custom_fields_reading_deeper_relations_are_read_and_planned(world):
    queryset = Person.objects.all()
    plan = plan_for(PersonPlaceSerializer)

    data, count = optimized(PersonPlaceSerializer, queryset)

    assert data == render(PersonPlaceSerializer, queryset)
    assert count == plan.query_count == 1
    assert plan.select_related == ("address__city__country",)
    assert plan.warnings == ()


# ------------------------------------------------------ aggregates of other shapes


def _values(model, expression):
    from drf_autoprefetch.aggregates import correlated

    joined = dict(model.objects.annotate(v=expression).values_list("pk", "v"))
    rewritten = dict(model.objects.annotate(v=correlated(model, expression)).values_list("pk", "v"))
    return joined, rewritten


@pytest.mark.parametrize(
    "expression",
    [
        Sum("chapters__number"),
        Max("chapters__number"),
        Min("chapters__number"),
        Avg("chapters__number"),
        Count("chapters", filter=Q(chapters__isnull=False)),
        Count("chapters", filter=Q(chapters__in=[1, 2, 3])),
        Count("authors__books"),
    ],
    ids=["sum", "max", "min", "avg", "filter-isnull", "filter-in", "back-through-m2m"],
)
def test_correlated_aggregates_give_the_joined_value_where_nothing_is_hidden(world, expression):
    joined, rewritten = _values(Book, expression)

    assert rewritten == joined


class ChapterTotalSerializer(serializers.ModelSerializer):
    total = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "total"]

    @hints(annotate={"total": Sum("chapters__number")})
    def get_total(self, book):
        if hasattr(book, "total"):
            return book.total
        return sum(chapter.number for chapter in book.chapters.all()) or None


def test_hinted_sum_renders_as_the_related_rows_give(world):
    data, count = optimized(ChapterTotalSerializer, Book.objects.all())

    assert data == render(ChapterTotalSerializer, Book.objects.all())
    assert count == 1


class CategoryBookCountSerializer(serializers.ModelSerializer):
    """An aggregate through a forward key first: left as Django joins it."""

    n = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "n"]

    @hints(annotate={"n": Count("category__books")})
    def get_n(self, book):
        return book.n if hasattr(book, "n") else book.category.books.count()


def test_hinted_aggregate_on_a_sliced_queryset_keeps_the_slice(world):
    expected = render(CategoryBookCountSerializer, Book.objects.all()[:3])

    data, _ = optimized(CategoryBookCountSerializer, Book.objects.all()[:3])

    assert data == expected


class CategoryBooksPage(PageNumberPagination):
    page_size = 2


class CategoryBooksView(generics.ListAPIView):
    """A list under a URL naming its parent (``/categories/<pk>/books/``), read by the view."""

    serializer_class = BookInRegionSerializer
    pagination_class = CategoryBooksPage
    autoprefetch_strict = True

    def get_queryset(self):
        rows = Book.objects.filter(category__isnull=False)
        list(rows)  # the view reads its rows first
        return rows


def test_list_under_a_url_naming_a_parent_gets_the_plan_onto_its_rows(world):
    optimized_view = type("OptimizedCategoryBooks", (AutoPrefetchMixin, CategoryBooksView), {})
    pk = Book.objects.first().category_id
    request = APIRequestFactory().get(f"/categories/{pk}/books/")

    expected = CategoryBooksView.as_view()(request, pk=pk).data
    with CaptureQueriesContext(connection) as captured:
        response = optimized_view.as_view()(request, pk=pk)

    assert response.status_code == 200
    assert response.data == expected
    # The rows (read by the view) and their categories; the paginator counts the list.
    assert len(captured) == 2
