"""Names the rows carry beyond their model's fields.

A serializer field may read what the queryset, not the model, gives the rows: an
annotation, a ``Prefetch(to_attr=...)``, an annotation of a ``Prefetch`` queryset on the
related rows, an annotation of the related model's default manager, or an attribute the
model's own code sets as each row is built. DRF renders all of these; so must the library,
without raising and without changing the response.
"""

from __future__ import annotations

import json

import pytest
from django.core import checks
from django.db import connection
from django.db.models import Count, F, Prefetch
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
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
from drf_autoprefetch.checks import check_plans
from drf_autoprefetch.discovery import view_targets
from tests.testapp.models import Crate, CrateItem, Sticker


@pytest.fixture
def crates(db):
    for n in range(3):
        crate = Crate.objects.create(name=f"crate {n}")
        for k in range(3):
            CrateItem.objects.create(crate=crate, number=k, weight=k + n)
            Sticker.objects.create(crate=crate, text=f"s{n}{k}", status="old", body="x" * 500)


class CrateItemSerializer(serializers.ModelSerializer):
    double_weight = serializers.IntegerField()  # required: from the default manager

    class Meta:
        model = CrateItem
        fields = ["id", "number", "double_weight"]


class StickerSerializer(serializers.ModelSerializer):
    loaded_status = serializers.CharField()  # required: set by the model's __init__

    class Meta:
        model = Sticker
        fields = ["id", "text", "loaded_status"]


class CrateSerializer(serializers.ModelSerializer):
    items = CrateItemSerializer(many=True)
    stickers = StickerSerializer(many=True)

    class Meta:
        model = Crate
        fields = ["id", "name", "items", "stickers"]


class HeavyItemsSerializer(serializers.ModelSerializer):
    heavy_items = CrateItemSerializer(many=True)  # not read-only: from a to_attr
    item_count = serializers.IntegerField()  # required: from an annotation

    class Meta:
        model = Crate
        fields = ["id", "heavy_items", "item_count"]


class MeasuredItemSerializer(serializers.ModelSerializer):
    weight_plus = serializers.IntegerField()  # required: from the Prefetch queryset

    class Meta:
        model = CrateItem
        fields = ["id", "weight_plus"]


class MeasuredCrateSerializer(serializers.ModelSerializer):
    items = MeasuredItemSerializer(many=True)

    class Meta:
        model = Crate
        fields = ["id", "items"]


def heavy_items():
    items = CrateItem.objects.filter(weight__gt=1)
    return Crate.objects.annotate(item_count=Count("items")).prefetch_related(
        Prefetch("items", queryset=items, to_attr="heavy_items")
    )


def measured_items():
    items = CrateItem.objects.annotate(weight_plus=F("weight") + 1)
    return Crate.objects.prefetch_related(Prefetch("items", queryset=items))


def rendered(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        body = JSONRenderer().render(serializer_class(queryset, many=True).data)
    return json.loads(body), len(captured)


@pytest.mark.parametrize(
    ("serializer_class", "queryset", "plain_queries", "optimized_queries"),
    [
        # Three crates, each with items and stickers: 1 + 3 + 3 unoptimized.
        (CrateSerializer, Crate.objects.all, 7, 3),
        # The view's own prefetch serves the to_attr; nothing else to load.
        (HeavyItemsSerializer, heavy_items, 2, 2),
        (MeasuredCrateSerializer, measured_items, 2, 2),
    ],
    ids=["manager-and-init", "to-attr-and-annotation", "prefetch-queryset-annotation"],
)
def test_names_the_rows_carry_render_as_without_the_library(
    crates, serializer_class, queryset, plain_queries, optimized_queries
):
    expected, plain = rendered(serializer_class, queryset())

    data, queries = rendered(serializer_class, optimize(queryset(), serializer_class))

    assert data == expected
    assert (plain, queries) == (plain_queries, optimized_queries)


def test_the_manager_and_init_names_need_no_queryset_to_plan():
    plan = plan_for(CrateSerializer)

    assert plan.warnings == ()
    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["items", "stickers"]


def test_rows_whose_model_runs_code_as_they_load_keep_every_column():
    (_, stickers) = plan_for(CrateSerializer).relations

    assert stickers.only is None  # __init__ reads status: pruned, each row would query it
    assert stickers.columns_why == (
        "all: code of the model runs as each row loads (its __init__, from_db(), "
        "__getattr__ or a post_init receiver) and may read any column"
    )


@pytest.mark.parametrize(
    ("serializer_class", "message"),
    [
        (
            HeavyItemsSerializer,
            "HeavyItemsSerializer.heavy_items: source 'heavy_items' names nothing on "
            "testapp.Crate.",
        ),
        (
            MeasuredCrateSerializer,
            "MeasuredCrateSerializer.items.weight_plus: source 'weight_plus' names nothing "
            "on testapp.CrateItem.",
        ),
    ],
)
def test_without_a_queryset_providing_them_the_names_are_errors(serializer_class, message):
    with pytest.raises(PlanError) as excinfo:
        plan_for(serializer_class)

    assert str(excinfo.value).startswith(message)
    with pytest.raises(PlanError):
        optimize(Crate.objects.all(), serializer_class)


class AnnotatingViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = HeavyItemsSerializer

    def get_queryset(self):
        return heavy_items()


class StaticHeavyItemsViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Crate.objects.all()
    serializer_class = HeavyItemsSerializer


def test_a_view_building_its_queryset_renders_and_checks_with_a_warning_only(crates):
    view = AnnotatingViewSet.as_view({"get": "list"})
    plain = type("Plain", (AnnotatingViewSet,), {"autoprefetch": False}).as_view({"get": "list"})

    response = view(APIRequestFactory().get("/"))

    assert response.data == plain(APIRequestFactory().get("/")).data
    (target, _) = view_targets(AnnotatingViewSet)
    assert target.plan().warnings == (
        "HeavyItemsSerializer.heavy_items: source 'heavy_items' names nothing on "
        "testapp.Crate; DRF fails to render the field unless its rows carry it (an annotation "
        "or a Prefetch's to_attr of that name, an attribute code sets on them), which the "
        "planner cannot check here. Did you mean 'items'?",
        "HeavyItemsSerializer.item_count: source 'item_count' names nothing on "
        "testapp.Crate; DRF fails to render the field unless its rows carry it (an annotation "
        "or a Prefetch's to_attr of that name, an attribute code sets on them), which the "
        "planner cannot check here.",
    )


def test_a_view_whose_queryset_is_known_still_gets_the_error():
    (target, _) = view_targets(StaticHeavyItemsViewSet)

    with pytest.raises(PlanError, match="source 'heavy_items' names nothing"):
        target.plan()


def test_the_checks_warn_for_a_view_building_its_queryset(settings):
    settings.ROOT_URLCONF = "tests.urls_provided"

    messages = check_plans()

    assert [
        (message.id, message.level) for message in messages if message.obj is HeavyItemsSerializer
    ] == [("drf_autoprefetch.W001", checks.WARNING)] * 2


def test_the_checks_keep_the_error_where_every_view_declares_its_queryset(settings):
    settings.ROOT_URLCONF = "tests.urls_provided_static"

    messages = check_plans()

    assert [
        (message.id, message.level) for message in messages if message.obj is HeavyItemsSerializer
    ] == [("drf_autoprefetch.E001", checks.ERROR)]


class PlainItemSerializer(serializers.Serializer):
    """No Meta.model: nothing to plan, and nothing to refuse when given a QuerySet."""

    number = serializers.IntegerField()


def test_a_decorated_plain_serializer_given_a_queryset_renders_as_without_it(crates, monkeypatch):
    monkeypatch.setattr(decorators, "_registry", [])
    decorated = auto_prefetch(validate=False)(
        type("DecoratedPlainItemSerializer", (PlainItemSerializer,), {})
    )

    data = decorated(CrateItem.objects.all(), many=True).data

    assert data == PlainItemSerializer(CrateItem.objects.all(), many=True).data


class ItemsInHandSerializer(serializers.ModelSerializer):
    items_in_hand = CrateItemSerializer(many=True, read_only=True)

    class Meta:
        model = Crate
        fields = ["id", "items_in_hand"]


def test_a_cached_property_rendered_nested_is_advised_a_to_attr_of_its_name():
    (warning,) = plan_for(ItemsInHandSerializer).warnings

    assert warning == (
        "ItemsInHandSerializer.items_in_hand: the nested serializer reads what "
        "Crate.items_in_hand returns; its relations are not optimized. Declare a Prefetch "
        "with to_attr='items_in_hand' in its hints to plan them."
    )


class HintedItemsSerializer(serializers.ModelSerializer):
    """A method field's hints fill a to_attr with annotated rows that a nested field reads."""

    heavy = serializers.SerializerMethodField()
    items_plus = MeasuredItemSerializer(many=True, read_only=True)

    class Meta:
        model = Crate
        fields = ["id", "heavy", "items_plus"]

    @hints(
        prefetch_related=[
            Prefetch(
                "items",
                queryset=CrateItem.objects.annotate(weight_plus=F("weight") + 1),
                to_attr="items_plus",
            )
        ]
    )
    def get_heavy(self, obj):
        return sum(item.weight_plus for item in obj.items_plus)


def test_a_name_the_queryset_of_a_hinted_prefetch_carries_is_accepted(crates):
    data, queries = rendered(
        HintedItemsSerializer, optimize(Crate.objects.all(), HintedItemsSerializer)
    )

    assert plan_for(HintedItemsSerializer).warnings == ()
    assert [item["weight_plus"] for item in data[0]["items_plus"]] == [1, 2, 3]
    assert queries == 2


def test_rows_in_hand_carry_what_their_prefetches_carry(crates):
    rows = list(measured_items())
    expected, _ = rendered(MeasuredCrateSerializer, rows)

    assert rendered(MeasuredCrateSerializer, optimize(rows, MeasuredCrateSerializer)) == (
        expected,
        0,
    )


class ScoringViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """A list of its own, setting on each row the value a required field renders."""

    queryset = Crate.objects.all()
    serializer_class = type(
        "ScoredCrateSerializer",
        (serializers.ModelSerializer,),
        {
            "score": serializers.IntegerField(),
            "Meta": type("Meta", (), {"model": Crate, "fields": ["id", "score"]}),
        },
    )

    def list(self, request, *args, **kwargs):
        rows = list(self.get_queryset())
        for row in rows:
            row.score = row.pk * 10
        return Response(self.get_serializer(rows, many=True).data)


def test_a_view_setting_what_a_field_renders_on_its_rows_renders(crates):
    response = ScoringViewSet.as_view({"get": "list"})(APIRequestFactory().get("/"))

    assert response.status_code == 200
    assert [row["score"] for row in response.data] == [row["id"] * 10 for row in response.data]
    assert len(response.data) == 3
