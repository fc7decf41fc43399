"""Column pruning: queries load only the columns their known readers read, where that
pays; never a different answer, never a column a reader needs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import (
    AutoPrefetchMixin,
    PlanError,
    UnplannedQueryError,
    hints,
    optimize,
    plan_for,
)
from drf_autoprefetch.apply import apply_plan
from drf_autoprefetch.planner import clear_cache
from tests.testapp.models import Manual, Shelf

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _cold_plans():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def manuals(db):
    made = []
    for index in range(3):
        shelf = Shelf.objects.create(name=f"Shelf {index}", code=f"S{index}")
        for number in range(2):
            made.append(
                Manual.objects.create(
                    shelf=shelf,
                    title=f"Manual {index}-{number}",
                    pages=10 * number + index,
                    body="x" * 2000,
                    data={"n": number},
                    published=WHEN + timedelta(minutes=2 * index + number),
                )
            )
    return made


def pruned(plan, queryset):
    """``queryset`` with ``plan`` applied, its root columns pruned as a list view's are."""
    return apply_plan(queryset, plan, prune=True)


def column(name: str) -> str:
    """How the database's SQL names a column of ``Manual``."""
    return f"{connection.ops.quote_name('testapp_manual')}.{connection.ops.quote_name(name)}"


def dumped(data) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def rendered(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = dumped(serializer_class(queryset, many=True).data)
    return data, [query["sql"] for query in captured]


# ---------------------------------------------------------------- serializers


class ManualBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Manual
        fields = ["id", "title", "shelf"]


class ManualPagesSerializer(serializers.ModelSerializer):
    """Leaves out only narrow columns and costly ones: pays because of the costly ones."""

    class Meta:
        model = Manual
        fields = ["id", "title", "pages", "shelf", "published", "updated"]


class ManualNarrowSerializer(serializers.ModelSerializer):
    """Reads every costly column: leaving out ``pages`` alone does not pay."""

    class Meta:
        model = Manual
        fields = ["id", "title", "shelf", "body", "data", "published", "updated"]


class ManualMethodSerializer(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Manual
        fields = ["id", "title", "summary"]

    def get_summary(self, manual):
        return manual.body[:10]


class ManualHintedSerializer(ManualMethodSerializer):
    @hints(only=["body"])
    def get_summary(self, manual):
        return manual.body[:10]


class ManualWrongHintSerializer(ManualMethodSerializer):
    @hints(only=["pages"])  # says pages; reads body
    def get_summary(self, manual):
        return manual.body[:10]


class ShelfManualsSerializer(serializers.ModelSerializer):
    manuals = ManualBriefSerializer(many=True)

    class Meta:
        model = Shelf
        fields = ["id", "name", "manuals"]


class ManualWithShelfSerializer(serializers.ModelSerializer):
    shelf = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Manual
        fields = ["id", "title", "shelf"]


class NeverPrunedSerializer(ManualBriefSerializer):
    autoprefetch_prune_columns = False


class AlwaysPrunedSerializer(ManualNarrowSerializer):
    autoprefetch_prune_columns = True


# ----------------------------------------------------------------- the plans


def test_a_root_reading_narrow_columns_leaves_out_the_costly_ones(manuals):
    plan = plan_for(ManualBriefSerializer)

    assert plan.only == ("id", "shelf", "title")
    assert str(plan) == "testapp.Manual\n  only id, shelf, title"
    data, queries = rendered(ManualBriefSerializer, pruned(plan, Manual.objects.all()))
    assert data == dumped(ManualBriefSerializer(list(Manual.objects.all()), many=True).data)
    assert len(queries) == 1
    assert column("body") not in queries[0]
    assert column("data") not in queries[0]


def test_the_cost_model_decides(manuals):
    assert plan_for(ManualPagesSerializer).only == (
        "id",
        "shelf",
        "title",
        "pages",
        "published",
        "updated",
    )
    assert plan_for(ManualNarrowSerializer).only is None  # only `pages` would go
    assert plan_for(AlwaysPrunedSerializer).only is not None
    assert plan_for(NeverPrunedSerializer).only is None


@override_settings(DRF_AUTOPREFETCH={"PRUNE_COLUMNS": False})
def test_the_setting_turns_it_off():
    assert plan_for(ManualBriefSerializer).only is None


def test_code_that_reads_the_row_stops_pruning_unless_hints_name_its_columns(manuals):
    assert plan_for(ManualMethodSerializer).only is None
    hinted = plan_for(ManualHintedSerializer)
    assert hinted.only == ("id", "shelf", "title", "body")  # foreign keys always load
    data, queries = rendered(ManualHintedSerializer, pruned(hinted, Manual.objects.all()))
    assert data == dumped(ManualHintedSerializer(list(Manual.objects.all()), many=True).data)
    assert len(queries) == 1


def test_a_prefetch_loads_its_columns_and_the_key_to_its_parent(manuals):
    plan = plan_for(ShelfManualsSerializer)

    (manuals_relation,) = plan.relations
    assert manuals_relation.only == ("id", "shelf", "title")
    data, queries = rendered(ShelfManualsSerializer, plan.apply(Shelf.objects.all()))
    assert data == dumped(ShelfManualsSerializer(list(Shelf.objects.all()), many=True).data)
    assert len(queries) == 2
    assert column("body") not in queries[1]


def test_a_slug_field_reads_one_column_of_the_related_row(manuals):
    plan = plan_for(ManualWithShelfSerializer)

    assert plan.only == ("id", "shelf", "title")
    assert plan.select_related == ("shelf",)
    data, queries = rendered(ManualWithShelfSerializer, pruned(plan, Manual.objects.all()))
    assert data == dumped(ManualWithShelfSerializer(list(Manual.objects.all()), many=True).data)
    assert len(queries) == 1


def test_a_dynamic_selection_prunes_further(manuals):
    class Selecting(ManualPagesSerializer):
        def __init__(self, *args, fields=None, **kwargs):
            super().__init__(*args, **kwargs)
            for name in set(self.fields) - set(fields or self.fields):
                self.fields.pop(name)

    assert plan_for(Selecting, kwargs={"fields": ["id", "pages"]}).only == (
        "id",
        "shelf",  # foreign keys always load
        "title",  # Meta.ordering
        "pages",
    )


# -------------------------------------------------------- the user's queryset


def test_the_users_own_only_and_joins_are_kept(manuals):
    plan = plan_for(ManualBriefSerializer)

    own_only = pruned(plan, Manual.objects.only("id", "title", "shelf", "body"))
    assert own_only.query.deferred_loading == ({"id", "title", "shelf", "body"}, False)
    expected = dumped(ManualBriefSerializer(list(Manual.objects.all()), many=True).data)
    for own in (
        Manual.objects.select_related("shelf"),
        Manual.objects.prefetch_related("shelf"),
    ):
        queryset = pruned(plan, own)
        assert queryset.query.deferred_loading == (frozenset(), True)  # loaded whole
        data, _ = rendered(ManualBriefSerializer, queryset)
        assert data == expected


def test_a_reverse_one_to_one_the_queryset_joins_keeps_the_root_whole(world):
    from tests.testapp import serializers as shapes
    from tests.testapp.models import Person

    plan = plan_for(shapes.PersonWithAddressSerializer)
    queryset = pruned(
        replace(plan, only=("id", "name", "address")), Person.objects.select_related("passport")
    )

    assert len(list(queryset)) == Person.objects.count()


def test_optimize_and_plan_apply_load_the_root_whole(manuals):
    plan = plan_for(ManualBriefSerializer)

    for queryset in (
        plan.apply(Manual.objects.all()),
        optimize(Manual.objects.all(), ManualBriefSerializer),
    ):
        assert queryset.query.deferred_loading == (frozenset(), True)


def test_a_users_prefetch_of_the_relation_keeps_its_queryset(manuals):
    own = Shelf.objects.prefetch_related(
        Prefetch("manuals", queryset=Manual.objects.filter(pages__gt=0))
    )
    plan = plan_for(ShelfManualsSerializer)

    data, _ = rendered(ShelfManualsSerializer, plan.apply(own))

    assert data == dumped(ShelfManualsSerializer(list(own.all()), many=True).data)


# ---------------------------------------------------------------- strictness


def test_strict_mode_catches_a_column_a_wrong_hint_left_out(manuals):
    class View(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
        queryset = Manual.objects.all()
        serializer_class = ManualWrongHintSerializer
        autoprefetch_strict = True

    request = APIRequestFactory().get("/manuals/")
    with pytest.raises(UnplannedQueryError, match=r"^ManualWrongHintSerializer\.summary "):
        View.as_view({"get": "list"})(request)


def test_a_wrong_hint_costs_queries_never_an_answer(manuals):
    plan = plan_for(ManualWrongHintSerializer)

    data, queries = rendered(ManualWrongHintSerializer, pruned(plan, Manual.objects.all()))

    expected = ManualWrongHintSerializer(list(Manual.objects.all()), many=True).data
    assert data == dumped(expected)
    assert len(queries) == 1 + len(manuals)  # one deferred load per row


# -------------------------------------------------------------------- views


class ManualViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    queryset = Manual.objects.all()
    serializer_class = ManualBriefSerializer


def call(viewset, method, path, actions, data=None, **kwargs):
    request = getattr(APIRequestFactory(), method)(path, data, format="json")
    return viewset.as_view(actions)(request, **kwargs)


def root_query(viewset, method, path, actions, data=None, **kwargs):
    with CaptureQueriesContext(connection) as captured:
        response = call(viewset, method, path, actions, data, **kwargs)
    return response, captured[0]["sql"]


def test_a_list_view_prunes_the_root_query(manuals):
    response, sql = root_query(ManualViewSet, "get", "/manuals/", {"get": "list"})

    assert response.status_code == 200
    assert column("body") not in sql


def test_a_detail_view_and_a_write_load_the_whole_row(manuals):
    manual = manuals[0]
    before = Manual.objects.get(pk=manual.pk).updated
    detail = f"/manuals/{manual.pk}/"

    _, sql = root_query(ManualViewSet, "get", detail, {"get": "retrieve"}, pk=manual.pk)
    assert column("body") in sql
    response = call(
        ManualViewSet, "patch", detail, {"patch": "partial_update"}, {"title": "New"}, pk=manual.pk
    )
    assert response.status_code == 200
    saved = Manual.objects.get(pk=manual.pk)
    assert saved.title == "New"
    assert saved.updated > before  # auto_now saved: the row was loaded whole


def test_a_view_can_turn_root_pruning_off(manuals):
    class Whole(ManualViewSet):
        autoprefetch_prune_columns = False

    _, sql = root_query(Whole, "get", "/manuals/", {"get": "list"})

    assert column("body") in sql


def test_a_cursor_paginator_keeps_its_ordering_column(manuals):
    class Pages(CursorPagination):
        page_size = 2
        ordering = "-published"

    class Paged(ManualViewSet):
        pagination_class = Pages

    plain = type("Plain", (Paged,), {"autoprefetch": False})
    expected = call(plain, "get", "/manuals/", {"get": "list"}).data

    with CaptureQueriesContext(connection) as captured:
        response = call(Paged, "get", "/manuals/", {"get": "list"})

    assert dumped(response.data) == dumped(expected)
    assert len(captured) == 1
    assert column("published") in captured[0]["sql"]


def test_a_bad_switch_value_is_a_plan_error():
    class Bad(ManualBriefSerializer):
        autoprefetch_prune_columns = "yes"

    with pytest.raises(PlanError) as excinfo:
        plan_for(Bad)

    assert str(excinfo.value) == (
        "Bad.autoprefetch_prune_columns is 'yes'; use 'auto', True or False (or None for "
        "the setting)."
    )


# --------------------------------------------------------------- writes, views


def test_a_decorated_serializer_given_data_loads_rows_whole(manuals):
    """Rows a serializer may save keep every column: ``auto_now`` is saved."""
    from drf_autoprefetch import auto_prefetch

    @auto_prefetch(validate=False)
    class Titles(ManualBriefSerializer):
        pass

    rendering = Titles(Manual.objects.all(), many=True)
    writing = Titles(Manual.objects.all(), data=[], many=True)

    assert rendering.instance.query.deferred_loading[0]  # pruned: rendered only
    assert writing.instance.query.deferred_loading == (frozenset(), True)
    from drf_autoprefetch import decorators

    decorators._registry.remove(Titles)


def test_a_view_with_its_own_list_or_a_cursor_paginator_loads_rows_whole(manuals):
    class OwnList(ManualViewSet):
        def list(self, request, *args, **kwargs):
            return super().list(request, *args, **kwargs)

    _, sql = root_query(OwnList, "get", "/manuals/", {"get": "list"})

    assert column("body") in sql


class WordCountViewSet(ManualViewSet):
    """An ``@action`` reading a column the serializer does not, beside its rows."""

    @action(detail=False)
    def words(self, request):
        rows = self.filter_queryset(self.get_queryset())
        data = self.get_serializer(rows, many=True).data
        return Response({"results": data, "words": sum(len(row.body.split()) for row in rows)})


class VisibleOnlyViewSet(ManualViewSet):
    """A ``filter_queryset()`` of its own reading the rows."""

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return [row for row in queryset if row.body]


class BodyFilter(BaseFilterBackend):
    """A filter backend of the project's, reading the rows in Python."""

    def filter_queryset(self, request, queryset, view):
        kept = [row.pk for row in queryset if row.body]
        return queryset.filter(pk__in=kept)


class FilteredViewSet(ManualViewSet):
    filter_backends = [BodyFilter]


@pytest.mark.parametrize(
    ("viewset", "actions"),
    [
        (WordCountViewSet, {"get": "words"}),
        (VisibleOnlyViewSet, {"get": "list"}),
        (FilteredViewSet, {"get": "list"}),
    ],
    ids=["action", "filter-queryset", "filter-backend"],
)
def test_rows_code_of_the_view_reads_load_whole(manuals, viewset, actions):
    plain = type("Plain", (viewset,), {"autoprefetch": False})
    expected = call(plain, "get", "/manuals/", actions)
    with CaptureQueriesContext(connection) as plain_queries:
        call(plain, "get", "/manuals/", actions)

    with CaptureQueriesContext(connection) as captured:
        response = call(viewset, "get", "/manuals/", actions)

    assert dumped(response.data) == dumped(expected.data)
    assert len(captured) == len(plain_queries)  # before: one more query per row, for its body


def test_a_string_related_field_reads_what_djangos_own_str_methods_read():
    from django.contrib.auth.models import Group

    class GroupUsers(serializers.ModelSerializer):
        user_set = serializers.StringRelatedField(many=True)

        class Meta:
            model = Group
            fields = ["id", "user_set"]

    (users,) = plan_for(GroupUsers).relations
    assert users.only is None  # AbstractUser.__str__ reads the username


def test_a_generic_view_of_its_own_loads_rows_whole(manuals):
    from rest_framework import generics
    from rest_framework.response import Response

    class OwnGet(AutoPrefetchMixin, generics.GenericAPIView):
        queryset = Manual.objects.all()
        serializer_class = ManualBriefSerializer

        def get(self, request):
            return Response(self.get_serializer(self.get_queryset(), many=True).data)

    request = APIRequestFactory().get("/manuals/")
    with CaptureQueriesContext(connection) as captured:
        OwnGet.as_view()(request)

    assert column("body") in captured[0]["sql"]


class TitlesField(serializers.Field):
    """Code the planner cannot see into (no hints, inference off) that reads columns of
    the rows below the object it gets: pretix's ``option_identifiers``."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        return sorted(manual.title for manual in value.manuals.all())


class ShelfTitlesSerializer(serializers.ModelSerializer):
    manuals = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    titles = TitlesField()

    class Meta:
        model = Shelf
        fields = ["id", "manuals", "titles"]


def test_rows_below_code_the_planner_cannot_see_into_keep_their_columns(manuals, settings):
    settings.DRF_AUTOPREFETCH = {"INFER": False}
    expected, _ = rendered(ShelfTitlesSerializer, Shelf.objects.all())

    (relation,) = plan_for(ShelfTitlesSerializer).relations
    data, queries = rendered(
        ShelfTitlesSerializer, optimize(Shelf.objects.all(), ShelfTitlesSerializer)
    )

    assert relation.only is None
    assert relation.columns_why == "all: code the planner cannot see into gets the rows above these"
    assert data == expected
    assert len(queries) == 2  # before: one more query per manual, for its deferred title


# ------------------------------------ prefetched rows code of the view reads


class ShelfViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    """The manuals are prefetched with three columns for DRF's list and retrieve."""

    queryset = Shelf.objects.all()
    serializer_class = ShelfManualsSerializer

    @action(detail=True, methods=["post"])
    def copy(self, request, pk=None):
        """RDMO's project copy: the prefetched children copied whole, as new rows."""
        shelf = self.get_object()
        new = Shelf.objects.create(name=f"{shelf.name} (copy)", code=shelf.code)
        for manual in shelf.manuals.all():
            manual.pk = None
            manual.shelf = new
            manual.save()
        return Response(self.get_serializer(new).data, status=201)

    @action(detail=False)
    def lengths(self, request):
        """Rendered by the view's serializer, and a column of the prefetched rows the
        serializer does not read."""
        shelves = self.get_queryset()
        lengths = {
            shelf.name: [len(each.body) for each in shelf.manuals.all()] for shelf in shelves
        }
        return Response(
            {"shelves": self.get_serializer(shelves, many=True).data, "lengths": lengths}
        )


def test_an_action_copying_prefetched_rows_gets_them_whole(manuals):
    """RDMO's projects: the copy of a row read without its text column ``updated`` and
    ``body`` failed (``DoesNotExist`` reading a deferred column of a row whose key was
    reset)."""
    shelf = manuals[0].shelf
    plain = type("Plain", (ShelfViewSet,), {"autoprefetch": False})
    expected = call(plain, "post", f"/shelves/{shelf.pk}/copy/", {"post": "copy"}, pk=shelf.pk)

    response = call(
        ShelfViewSet, "post", f"/shelves/{shelf.pk}/copy/", {"post": "copy"}, pk=shelf.pk
    )

    assert response.status_code == expected.status_code == 201
    copied = Manual.objects.filter(shelf=response.data["id"]).order_by("title")
    originals = Manual.objects.filter(shelf=shelf).order_by("title")
    assert [(each.title, each.body, each.published) for each in copied] == [
        (each.title, each.body, each.published) for each in originals
    ]
    assert len(response.data["manuals"]) == len(expected.data["manuals"]) == 2


def test_an_action_reading_a_column_of_prefetched_rows_runs_no_query_per_row(manuals):
    plain = type("Plain", (ShelfViewSet,), {"autoprefetch": False})
    expected = call(plain, "get", "/shelves/lengths/", {"get": "lengths"})

    with CaptureQueriesContext(connection) as captured:
        response = call(ShelfViewSet, "get", "/shelves/lengths/", {"get": "lengths"})

    assert response.data == expected.data
    assert response.data["lengths"] == {f"Shelf {n}": [2000, 2000] for n in range(3)}
    assert len(captured) == 2
    assert column("body") in captured[1]["sql"]


def test_drfs_list_and_retrieve_still_prune_the_prefetched_rows(manuals):
    shelf = manuals[0].shelf
    for actions, kwargs in (({"get": "list"}, {}), ({"get": "retrieve"}, {"pk": shelf.pk})):
        with CaptureQueriesContext(connection) as captured:
            response = call(ShelfViewSet, "get", "/shelves/", actions, **kwargs)

        assert response.status_code == 200
        assert len(captured) == 2
        assert column("body") not in captured[1]["sql"]


def test_whole_rows_is_kept_and_leaves_unpruned_relations_as_they_are():
    from drf_autoprefetch.tree import whole_rows

    relations = plan_for(ShelfManualsSerializer).relations
    whole = whole_rows(relations)

    assert whole_rows(relations) is whole
    assert [relation.only for each in whole for relation in each.walk()] == [None]
    assert whole_rows(whole) is whole
