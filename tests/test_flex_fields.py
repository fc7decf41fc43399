"""drf-flex-fields' ``?fields=``, ``?omit=`` and ``?expand=``: serializers written as its
README teaches (the built-in selection), and with the selection method of the
dynamic-fields page, as written there."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_flex_fields import FlexFieldsModelSerializer
from rest_framework import serializers, viewsets
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin, plan_for
from drf_autoprefetch.selection import Selection
from tests.testapp.models import Book, Category, Manual, Shelf
from tests.testapp.serializers import CategoryLeafSerializer as CategorySerializer
from tests.testapp.serializers import PersonBriefSerializer as PersonSerializer

pytestmark = pytest.mark.django_db


def _listed(kwargs, params, name):
    given = list(kwargs.get(name, ()))
    return given or [part for part in params.get(name, "").split(",") if part]


class PlannedFlexSerializer(FlexFieldsModelSerializer):
    @classmethod
    def autoprefetch_selection(cls, kwargs, context):
        request = context.get("request")
        params = request.query_params if request is not None else {}
        return Selection(
            fields=_listed(kwargs, params, "fields") or None,
            omit=_listed(kwargs, params, "omit"),
            build={"expand": _listed(kwargs, params, "expand")},
        )


class FlexCategorySerializer(PlannedFlexSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "parent"]
        expandable_fields = {"parent": CategorySerializer}


class FlexBookSerializer(PlannedFlexSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor"]
        expandable_fields = {
            "category": FlexCategorySerializer,
            "editor": PersonSerializer,
            "authors": (PersonSerializer, {"many": True}),
        }


class FlexBookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = FlexBookSerializer


class PlainFlexBookViewSet(FlexBookViewSet):
    autoprefetch = False


def listed(view_class, query):
    view = view_class.as_view({"get": "list"})
    return view(APIRequestFactory().get(f"/books/?{query}"))


@pytest.mark.parametrize(
    ("query", "expected_queries"),
    [
        ("", 1),
        ("expand=category", 1),
        ("expand=category,editor,authors", 2),
        ("expand=authors&fields=id,authors", 2),
        ("expand=category,authors&omit=authors", 1),
        ("expand=editor,authors&fields=id,editor", 1),
        ("expand=category.parent", 1),  # category and its parent joined
        ("expand=category.parent&fields=id,category.name", 1),
    ],
)
def test_flex_fields_requests_run_the_plan_of_what_they_render(make_world, query, expected_queries):
    make_world(3)
    expected = json.dumps(listed(PlainFlexBookViewSet, query).data, sort_keys=True)

    with CaptureQueriesContext(connection) as captured:
        response = listed(FlexBookViewSet, query)

    assert response.status_code == 200
    assert json.dumps(response.data, sort_keys=True) == expected
    assert len(captured) == expected_queries


def test_a_nested_expansion_joins_below_the_expanded_relation():
    plan = plan_for(FlexBookSerializer, kwargs={"expand": ["category.parent"]})

    assert plan.select_related == ("category__parent",)


def test_flex_fields_own_to_representation_is_no_warning():
    plan = plan_for(FlexBookSerializer, kwargs={"expand": ["category"]})

    assert plan.select_related == ("category",)
    assert plan.warnings == ()


# ------------------------------------------- as drf-flex-fields' README teaches


class ReadmeCategorySerializer(FlexFieldsModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "parent"]
        expandable_fields = {"parent": CategorySerializer}


class ReadmeBookSerializer(FlexFieldsModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor", "authors"]
        expandable_fields = {
            "category": ReadmeCategorySerializer,
            "editor": PersonSerializer,
            "authors": (PersonSerializer, {"many": True}),
        }


class ReadmeViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = ReadmeBookSerializer


class PlainReadmeViewSet(ReadmeViewSet):
    autoprefetch = False


@pytest.mark.parametrize(
    ("query", "expected_queries"),
    [
        ("", 2),  # books, author keys
        ("fields=id,title", 1),
        ("expand=authors", 2),
        ("expand=editor&expand=authors", 2),
        ("expand[]=editor&expand[]=authors", 2),
        ("expand=category.parent&fields=id,category", 1),
        ("expand=*", 2),
        ("expand=~all&omit=authors", 1),
        ("fields[]=id&fields[]=editor&expand=editor", 1),
    ],
)
def test_readme_serializers_get_the_plan_of_what_they_render(make_world, query, expected_queries):
    make_world(3)
    expected = json.dumps(listed(PlainReadmeViewSet, query).data, sort_keys=True)

    with CaptureQueriesContext(connection) as captured:
        response = listed(ReadmeViewSet, query)

    assert json.dumps(response.data, sort_keys=True) == expected
    assert len(captured) == expected_queries


def test_the_first_request_does_not_decide_the_plan_of_the_next(make_world):
    make_world(3)
    listed(ReadmeViewSet, "fields=id,title")

    with CaptureQueriesContext(connection) as captured:
        listed(ReadmeViewSet, "expand=category,authors")

    assert len(captured) == 2


def test_permitted_expands_limit_what_is_planned(rf):
    from rest_framework.request import Request

    request = Request(rf.get("/?expand=category,authors"))
    plan = plan_for(
        ReadmeBookSerializer, context={"request": request, "permitted_expands": ["category"]}
    )

    assert plan.select_related == ("category",)
    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["authors"]
    # Whole rows: a selection's answer prunes no column (drf-flex-fields may still
    # expand the keys at rendering time from a form of the query it reads).
    assert plan.prefetches[0].queryset.query.deferred_loading == (frozenset(), True)


# ------------------------------- dotted paths into a declared nested serializer


class ManualSerializer(serializers.ModelSerializer):
    class Meta:
        model = Manual
        fields = ["id", "title", "body"]


class ShelfWithManualsSerializer(FlexFieldsModelSerializer):
    manuals = ManualSerializer(many=True, read_only=True)  # declared: flex leaves it whole

    class Meta:
        model = Shelf
        fields = ["id", "name", "manuals"]


class ShelfViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Shelf.objects.all()
    serializer_class = ShelfWithManualsSerializer


@pytest.mark.parametrize("query", ["omit=manuals.body", "fields=manuals.title", ""])
def test_dotted_paths_into_a_declared_serializer_leave_it_whole(query):
    from datetime import datetime, timezone

    shelf = Shelf.objects.create(name="A", code="a")
    for index in range(4):
        Manual.objects.create(
            shelf=shelf, title=f"m{index}", body="x" * 100, published=datetime.now(timezone.utc)
        )
    plain = type("Plain", (ShelfViewSet,), {"autoprefetch": False})
    expected = json.dumps(listed(plain, query).data, sort_keys=True)

    with CaptureQueriesContext(connection) as captured:
        response = listed(ShelfViewSet, query)

    assert json.dumps(response.data, sort_keys=True) == expected
    assert len(captured) == 2  # shelves, manuals (every column the rendering reads)


# ------------------------------------------- a selection method that misses a form


class PkAuthorsFlexSerializer(PlannedFlexSerializer):
    """Renders the authors' keys unless expanded. The selection method above reads
    ``?expand=`` only, not ``?expand[]=``: it says the keys are read, though drf-flex-fields
    expands them into whole rows."""

    class Meta:
        model = Book
        fields = ["id", "title", "authors"]
        expandable_fields = {"authors": (PersonSerializer, {"many": True})}


class PkAuthorsViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = PkAuthorsFlexSerializer


def test_a_wrong_selection_never_costs_more_than_no_library(make_world):
    make_world(3)
    plain = type("Plain", (PkAuthorsViewSet,), {"autoprefetch": False})
    query = "expand[]=authors"
    with CaptureQueriesContext(connection) as unoptimized:
        expected = json.dumps(listed(plain, query).data, sort_keys=True)

    with CaptureQueriesContext(connection) as captured:
        response = listed(PkAuthorsViewSet, query)

    assert json.dumps(response.data, sort_keys=True) == expected
    assert len(captured) == 2  # the authors' whole rows, prefetched once
    assert len(captured) < len(unoptimized)


# ----------------------------- a serializer of its own on top (pretalx's base)


class LocalizedFlexSerializer(FlexFieldsModelSerializer):
    """Like pretalx's ``PretalxSerializer``: an ``__init__`` of its own, so its fields
    are read from an instance built per request. drf-flex-fields applies the query
    parameters' options only when the instance renders."""

    def __init__(self, *args, **kwargs):
        self.locale = kwargs.get("context", {}).get("override_locale")
        super().__init__(*args, **kwargs)


class LocalizedBookSerializer(LocalizedFlexSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "category", "authors"]
        expandable_fields = {
            "category": ReadmeCategorySerializer,
            "authors": (PersonSerializer, {"many": True}),
        }


class LocalizedViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = LocalizedBookSerializer


@pytest.mark.parametrize(
    ("query", "expected_queries"),
    [
        ("", 2),  # books, author keys
        ("expand=authors", 2),
        ("expand=category,authors", 2),
        ("expand=category.parent&omit=authors", 1),
        ("fields=id,title", 1),
    ],
)
def test_an_own_init_gets_the_plan_of_the_query_parameters_options(
    make_world, query, expected_queries
):
    make_world(3)
    plain = type("Plain", (LocalizedViewSet,), {"autoprefetch": False})
    with CaptureQueriesContext(connection) as unoptimized:
        expected = json.dumps(listed(plain, query).data, sort_keys=True)

    with CaptureQueriesContext(connection) as captured:
        response = listed(LocalizedViewSet, query)

    assert json.dumps(response.data, sort_keys=True) == expected
    assert len(captured) == expected_queries
    assert len(captured) <= len(unoptimized)


def test_drf_flex_fields_0_9_names_its_expansion_wildcards_otherwise(rf, monkeypatch):
    """Label Studio pins drf-flex-fields 0.9.5: ``WILDCARD_EXPAND_VALUES``, for
    expansions only (planning failed on the import of ``WILDCARD_VALUES``)."""
    import rest_flex_fields
    from rest_framework.request import Request

    monkeypatch.delattr(rest_flex_fields, "WILDCARD_VALUES")
    monkeypatch.setattr(rest_flex_fields, "WILDCARD_EXPAND_VALUES", ["~all", "*"], raising=False)
    request = Request(rf.get("/?expand=*"))

    plan = plan_for(
        ReadmeBookSerializer, context={"request": request, "permitted_expands": ["category"]}
    )

    assert plan.select_related == ("category",)  # "*": every permitted expansion
    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["authors"]  # their ids
