"""Bad configuration: a clear error early, never a wrong response or Django's own error.

Each mistake below is caught when the plan is built (``plan_for``, the system checks
at start-up, ``@auto_prefetch`` at import) or when it is applied (``get_queryset()``,
before a row is read), with a message naming the serializer, the field path and the
fix. ``docs/reliability.md`` lists the same table.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Prefetch
from rest_framework import generics, serializers
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import (
    AutoPrefetchMixin,
    PlanError,
    auto_prefetch,
    decorators,
    hints,
    optimize,
    plan_for,
)
from drf_autoprefetch.checks import check_serializer
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Person, Review

BOOK_RELATIONS = "authors, category, chapters, comments, editor, labels, reviews"

GOOD = Review.objects.filter(rating__gte=4)
POOR = Review.objects.filter(rating__lte=2)


# --- the mistakes ------------------------------------------------------------------


class WrongSourceSerializer(serializers.ModelSerializer):
    writer = serializers.CharField(source="writer.name")

    class Meta:
        model = Book
        fields = ["id", "writer"]


class WrongRootSourceSerializer(serializers.ModelSerializer):
    writer = serializers.CharField(source="wrtr")

    class Meta:
        model = Book
        fields = ["id", "writer"]


class UnknownHintSerializer(serializers.ModelSerializer):
    review_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "review_count"]

    @hints(prefetch_related=["reveiws"])
    def get_review_count(self, book):
        return len(book.reviews.all())


class ToAttrClashSerializer(serializers.ModelSerializer):
    good = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "good"]

    @hints(prefetch_related=[Prefetch("reviews", queryset=GOOD, to_attr="title")])
    def get_good(self, book):
        return len(book.title)


class MissingManySerializer(serializers.ModelSerializer):
    reviews = shapes.ReviewSerializer()  # a to-many relation without many=True

    class Meta:
        model = Book
        fields = ["id", "reviews"]


class PrefetchSingleValuedSerializer(serializers.ModelSerializer):
    category_name = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "category_name"]

    @hints(prefetch_related=[Prefetch("category")])
    def get_category_name(self, book):
        return book.category.name


class PrefetchOfAnotherModelSerializer(serializers.ModelSerializer):
    good = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "good"]

    @hints(prefetch_related=[Prefetch("reviews", Person.objects.all(), to_attr="good_reviews")])
    def get_good(self, book):
        return len(book.good_reviews)


class SameToAttrTwiceSerializer(serializers.ModelSerializer):
    """Two method fields filling one ``to_attr`` from different querysets."""

    good = serializers.SerializerMethodField()
    poor = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "good", "poor"]

    @hints(prefetch_related=[Prefetch("reviews", queryset=GOOD, to_attr="picked")])
    def get_good(self, book):
        picked = getattr(book, "picked", None)
        return [r.pk for r in (picked if picked is not None else GOOD.filter(book=book))]

    @hints(prefetch_related=[Prefetch("reviews", queryset=POOR, to_attr="picked")])
    def get_poor(self, book):
        picked = getattr(book, "picked", None)
        return [r.pk for r in (picked if picked is not None else POOR.filter(book=book))]


class FilteredRelationSerializer(serializers.ModelSerializer):
    """A field reading a relation that a method's hints prefetch filtered, without to_attr."""

    reviews = shapes.ReviewSerializer(many=True)
    poor = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "reviews", "poor"]

    @hints(prefetch_related=[Prefetch("reviews", queryset=POOR)])
    def get_poor(self, book):
        return [review.pk for review in book.reviews.all() if review.rating <= 2]


PLAN_TIME: dict[str, tuple[type, str]] = {
    "wrong-source": (
        WrongSourceSerializer,
        "WrongSourceSerializer.writer: source 'writer' names nothing on testapp.Book. Fix "
        f"the field's source; relations of Book: {BOOK_RELATIONS}.",
    ),
    "wrong-root-source": (
        WrongRootSourceSerializer,
        "WrongRootSourceSerializer.writer: source 'wrtr' names nothing on testapp.Book. Fix "
        f"the field's source; relations of Book: {BOOK_RELATIONS}. (An annotation of that "
        "name on the queryset the plan is applied to is accepted.)",
    ),
    "hint-names-unknown-relation": (
        UnknownHintSerializer,
        "UnknownHintSerializer.review_count: hint 'reveiws' on "
        "UnknownHintSerializer.get_review_count: 'reveiws' is not a relation of "
        f"testapp.Book. Relations of testapp.Book: {BOOK_RELATIONS}.",
    ),
    "to-attr-clashes-with-a-field": (
        ToAttrClashSerializer,
        "ToAttrClashSerializer.good: Prefetch('reviews') in the hints of "
        "ToAttrClashSerializer.get_good sets to_attr='title', which is a field of "
        "testapp.Book; choose another name.",
    ),
    "nested-to-many-without-many": (
        MissingManySerializer,
        "MissingManySerializer.reviews: reviews is a to-many relation of testapp.Book; "
        "declare the nested serializer with many=True.",
    ),
    "prefetch-hint-on-single-valued": (
        PrefetchSingleValuedSerializer,
        "PrefetchSingleValuedSerializer.category_name: Prefetch('category') in the hints of "
        "PrefetchSingleValuedSerializer.get_category_name names a single-valued relation; "
        "use select_related=['category'] instead.",
    ),
    "prefetch-hint-of-another-model": (
        PrefetchOfAnotherModelSerializer,
        "PrefetchOfAnotherModelSerializer.good: Prefetch('reviews') in the hints of "
        "PrefetchOfAnotherModelSerializer.get_good has a queryset of testapp.Person, but the "
        "relation holds testapp.Review.",
    ),
    "hints-fill-one-to-attr-twice": (
        SameToAttrTwiceSerializer,
        "SameToAttrTwiceSerializer.poor: Prefetch('reviews') in the hints of "
        "SameToAttrTwiceSerializer.get_poor fills 'picked' with another queryset than the "
        "hints of SameToAttrTwiceSerializer.get_good do; give one of the two Prefetch "
        "objects another to_attr.",
    ),
    "field-reads-a-relation-hints-filter": (
        FilteredRelationSerializer,
        "FilteredRelationSerializer.reviews: reads 'reviews', which the hints of "
        "FilteredRelationSerializer.get_poor prefetch with a queryset of their own; this "
        "field would show only that queryset's rows. Give that Prefetch('reviews') a to_attr.",
    ),
}

#: Cases the library does not catch yet: each is an expected failure until it does.
GAPS: dict[str, str] = {}


def _cases(table: dict[str, Any]) -> list[Any]:
    return [
        pytest.param(
            *table[name],
            id=name,
            marks=[pytest.mark.xfail(reason=GAPS[name], strict=True)] if name in GAPS else [],
        )
        for name in table
    ]


# --- plan time and start-up --------------------------------------------------------


@pytest.mark.parametrize(("serializer_class", "message"), _cases(PLAN_TIME))
def test_plan_for_raises_plan_error_with_the_fix(serializer_class, message):
    with pytest.raises(PlanError) as excinfo:
        plan_for(serializer_class)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(("serializer_class", "message"), _cases(PLAN_TIME))
def test_system_check_reports_it_at_start_up(serializer_class, message):
    errors = check_serializer(serializer_class)
    assert [(error.id, error.msg, error.obj) for error in errors] == [
        ("drf_autoprefetch.E001", message, serializer_class)
    ]


@pytest.mark.parametrize(("serializer_class", "message"), _cases(PLAN_TIME))
def test_view_fails_before_reading_a_row_never_with_a_wrong_response(
    serializer_class, message, world, django_assert_num_queries
):
    view = type(
        "View",
        (AutoPrefetchMixin, generics.ListAPIView),
        {"queryset": Book.objects.all(), "serializer_class": serializer_class},
    ).as_view()
    with django_assert_num_queries(0), pytest.raises(PlanError) as excinfo:
        view(APIRequestFactory().get("/"))
    assert str(excinfo.value) == message


def test_auto_prefetch_refuses_a_bad_serializer_when_it_is_declared(monkeypatch):
    monkeypatch.setattr(decorators, "_registry", [])  # leave the project's registry alone
    monkeypatch.setattr(decorators, "_pending", [])
    with pytest.raises(PlanError) as excinfo:

        @auto_prefetch
        class BadSerializer(serializers.ModelSerializer):
            reviews = shapes.ReviewSerializer()

            class Meta:
                model = Book
                fields = ["id", "reviews"]

    assert str(excinfo.value) == (
        "BadSerializer.reviews: reviews is a to-many relation of testapp.Book; declare the "
        "nested serializer with many=True."
    )


def test_hints_refuse_a_lookup_string_in_place_of_a_list():
    with pytest.raises(TypeError) as excinfo:
        hints(prefetch_related="reviews")
    assert str(excinfo.value) == (
        "hints() takes sequences of lookups, not a single string: write "
        "select_related=['author'] rather than select_related='author'."
    )


# --- when the plan meets the view's queryset ---------------------------------------


WRONG_MODEL = (
    "The plan is for testapp.Book but the queryset holds testapp.Person; give the "
    "serializer for Person or a queryset of Book."
)


class NamedRowSerializer(serializers.ModelSerializer):
    """Declared for books, rendering rows of any model with an ``id`` (as pulp's
    serializer of importers renders imports, or a Weblate ``@action`` another model's
    rows)."""

    class Meta:
        model = Book
        fields = ["id"]


def _person_rows_view(mixin: bool = True) -> Any:
    bases = (AutoPrefetchMixin, generics.ListAPIView) if mixin else (generics.ListAPIView,)
    return type(
        "PersonRows",
        bases,
        {"queryset": Person.objects.all(), "serializer_class": NamedRowSerializer},
    ).as_view()


def test_serializer_of_another_model_leaves_the_queryset_as_drf_renders_it(
    world, caplog, django_assert_num_queries
):
    expected = _person_rows_view(mixin=False)(APIRequestFactory().get("/")).data

    for _ in range(2):
        with django_assert_num_queries(1):
            response = _person_rows_view()(APIRequestFactory().get("/"))
        assert response.status_code == 200
        assert response.data == expected
    assert [
        record.getMessage()
        for record in caplog.records
        if "left unoptimized" in record.getMessage()
    ] == [
        f"drf_autoprefetch: PersonRows with NamedRowSerializer: {WRONG_MODEL} Until then, its "
        "queryset is left unoptimized."
    ]


class AddressedRowSerializer(serializers.ModelSerializer):
    """Declared for books, rendering people's addresses (a query per row)."""

    address = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "address"]


def test_a_queryset_left_unoptimized_is_not_checked_in_strict_mode(world, settings):
    settings.DRF_AUTOPREFETCH = {"STRICT": True}
    view = type(
        "PersonAddresses",
        (AutoPrefetchMixin, generics.ListAPIView),
        {"queryset": Person.objects.all(), "serializer_class": AddressedRowSerializer},
    )
    plain = type("Plain", (view,), {"autoprefetch": False})

    response = view.as_view()(APIRequestFactory().get("/"))

    assert response.status_code == 200
    assert response.data == plain.as_view()(APIRequestFactory().get("/")).data


def test_serializer_of_another_model_is_an_error_where_unplannable_fields_are(db, settings):
    settings.DRF_AUTOPREFETCH = {"ON_UNPLANNABLE": "raise"}
    with pytest.raises(PlanError) as excinfo:
        _person_rows_view()(APIRequestFactory().get("/"))
    assert str(excinfo.value) == f"PersonRows with NamedRowSerializer: {WRONG_MODEL}"


def test_a_queryset_prefetching_one_lookup_with_two_querysets(db, django_assert_num_queries):
    queryset = Book.objects.prefetch_related(
        Prefetch("reviews", queryset=GOOD), Prefetch("reviews", queryset=POOR)
    )
    with django_assert_num_queries(0), pytest.raises(PlanError) as excinfo:
        optimize(queryset, shapes.BookReviewsSerializer)
    assert str(excinfo.value) == (
        "The queryset of testapp.Book prefetches 'reviews' twice, each time with a queryset "
        "of its own (Prefetch('reviews', queryset=...) and Prefetch('reviews', "
        "queryset=...)); Django refuses that when the rows are read. Keep one of them, or "
        "give the other a to_attr."
    )


def test_one_queryset_for_a_relation_and_another_under_a_to_attr_is_fine(world):
    queryset = Book.objects.prefetch_related(
        Prefetch("reviews", queryset=GOOD), Prefetch("reviews", queryset=POOR, to_attr="poor")
    )
    rows = shapes.BookReviewsSerializer(
        optimize(queryset, shapes.BookReviewsSerializer), many=True
    ).data
    assert rows == shapes.BookReviewsSerializer(list(queryset.all()), many=True).data


# --- the project's own code failing where planning builds a serializer ---------------


class InstanceFirstSerializer(serializers.ModelSerializer):
    """pretix's ``SeatSerializer``: ``__init__`` wants the instance as an argument."""

    def __init__(self, instance, *args, **kwargs):
        super().__init__(instance, *args, **kwargs)

    class Meta:
        model = Book
        fields = ["id", "title", "authors"]


class KeywordNeedingSerializer(serializers.ModelSerializer):
    """pretix's ``BankImportJobSerializer``: a keyword argument only its view passes."""

    def __init__(self, *args, **kwargs):
        self.owner = kwargs.pop("owner")
        super().__init__(*args, **kwargs)

    class Meta:
        model = Book
        fields = ["id", "title", "authors"]


class InstanceFirstView(AutoPrefetchMixin, generics.ListAPIView):
    queryset = Book.objects.all()
    serializer_class = InstanceFirstSerializer


@pytest.mark.parametrize("serializer_class", [InstanceFirstSerializer, KeywordNeedingSerializer])
def test_optimize_leaves_a_serializer_it_cannot_build_unoptimized(world, serializer_class, caplog):
    queryset = Book.objects.all()

    assert optimize(queryset, serializer_class) is queryset
    assert f"optimize() could not plan {serializer_class.__name__} (" in caplog.text


def test_a_view_renders_a_serializer_the_plan_cannot_build(world, caplog):
    view = InstanceFirstView.as_view()
    plain = type("Plain", (InstanceFirstView,), {"autoprefetch": False}).as_view()

    response = view(APIRequestFactory().get("/"))

    assert response.status_code == 200
    assert response.data == plain(APIRequestFactory().get("/")).data
    assert "could not plan InstanceFirstSerializer (TypeError: " in caplog.text
