"""Plans of the fields each request renders: ``fields=``, brief mode, omit, expand,
fields built from the context; cached by what varies, never built per request.

Every rendering is compared with the unoptimized one, and the queries pinned.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import (
    AutoPrefetchMixin,
    PlanError,
    auto_prefetch,
    optimize,
    plan_for,
    planner,
)
from drf_autoprefetch.selection import ContextReads, Selection
from tests.testapp.models import Book, Category, Person, Review
from tests.testapp.serializers import CategoryLeafSerializer as CategorySerializer
from tests.testapp.serializers import PersonBriefSerializer as PersonSerializer

pytestmark = pytest.mark.django_db

factory = APIRequestFactory()


@pytest.fixture(autouse=True)
def _cold_plans():
    planner.clear_cache()
    yield
    planner.clear_cache()


def dumped(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def counted(function, *args, **kwargs):
    with CaptureQueriesContext(connection) as captured:
        result = function(*args, **kwargs)
    return result, len(captured)


# ------------------------------------------------------------------ serializers


class DynamicFieldsModelSerializer(serializers.ModelSerializer):
    """The serializer of DRF's documentation: ``fields=`` keeps only those fields."""

    def __init__(self, *args, **kwargs):
        fields = kwargs.pop("fields", None)
        super().__init__(*args, **kwargs)
        if fields is not None:
            for name in set(self.fields) - set(fields):
                self.fields.pop(name)


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = PersonSerializer()

    class Meta:
        model = Review
        fields = ["id", "rating", "reviewer"]


@auto_prefetch
class DocsBookSerializer(DynamicFieldsModelSerializer):
    category = CategorySerializer()
    authors = PersonSerializer(many=True)
    reviews = ReviewSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category", "authors", "reviews"]


class NetBoxStyleSerializer(serializers.ModelSerializer):
    """NetBox's base serializer: ``nested=True`` renders ``Meta.brief_fields``,
    ``fields=`` the fields named."""

    def __init__(self, *args, nested=False, fields=None, **kwargs):
        self.nested = nested
        self._requested_fields = fields
        if nested and not fields:
            self._requested_fields = getattr(self.Meta, "brief_fields", None)
        super().__init__(*args, **kwargs)

    def get_field_names(self, declared_fields, info):
        names = super().get_field_names(declared_fields, info)
        return list(self._requested_fields) if self._requested_fields else names


class NBPersonSerializer(NetBoxStyleSerializer):
    class Meta:
        model = Person
        fields = ["id", "name", "address"]
        brief_fields = ("id", "name")


class NBCategorySerializer(NetBoxStyleSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "parent"]
        brief_fields = ("id", "name")


class NBBookSerializer(NetBoxStyleSerializer):
    category = NBCategorySerializer(nested=True)
    editor = NBPersonSerializer(nested=True, allow_null=True)
    authors = NBPersonSerializer(nested=True, many=True)
    review_count = serializers.IntegerField()

    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor", "authors", "review_count"]
        brief_fields = ("id", "title")


class NBBookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """NetBox's view: ``?brief=1`` and ``?fields=`` reach the serializer through
    ``get_serializer()``; the count is annotated only when it is rendered."""

    serializer_class = NBBookSerializer

    @property
    def requested_fields(self):
        if fields := self.request.query_params.get("fields"):
            return fields.split(",")
        if self.request.query_params.get("brief"):
            return NBBookSerializer.Meta.brief_fields
        return None

    def get_queryset(self):
        queryset = Book.objects.all()
        if self.requested_fields is None or "review_count" in self.requested_fields:
            queryset = queryset.annotate(review_count=Count("reviews"))
        return queryset.order_by("title", "id")  # GROUP BY drops Meta.ordering

    def get_serializer(self, *args, **kwargs):
        if self.requested_fields:
            kwargs["fields"] = self.requested_fields
        return super().get_serializer(*args, **kwargs)


class PlainNBBookViewSet(NBBookViewSet):
    autoprefetch = False


def _query_list(params: Mapping | None, name: str) -> list[str]:
    return [part for part in (params or {}).get(name, "").split(",") if part]


class FlexLikeSerializer(serializers.ModelSerializer):
    """drf-flex-fields' query parameters: ``?fields=``, ``?omit=`` and ``?expand=``
    (which replaces a key with the nested serializer of ``expandable_fields``)."""

    expandable_fields: ClassVar[dict[str, tuple[type, dict[str, Any]]]] = {}

    def __init__(self, *args, expand=(), **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        params = request.query_params if request is not None else None
        for name in (*expand, *_query_list(params, "expand")):
            serializer_class, options = self.expandable_fields[name]
            self.fields[name] = serializer_class(**options)
        chosen = _query_list(params, "fields")
        for name in list(self.fields):
            if (chosen and name not in chosen) or name in _query_list(params, "omit"):
                self.fields.pop(name)

    @classmethod
    def autoprefetch_selection(cls, kwargs, context):
        request = context.get("request")
        params = request.query_params if request is not None else None
        return Selection(
            fields=_query_list(params, "fields") or None,
            omit=_query_list(params, "omit"),
            build={"expand": [*kwargs.get("expand", ()), *_query_list(params, "expand")]},
        )


class FlexBookSerializer(FlexLikeSerializer):
    expandable_fields: ClassVar[dict[str, tuple[type, dict[str, Any]]]] = {
        "category": (CategorySerializer, {}),
        "authors": (PersonSerializer, {"many": True}),
    }

    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor"]


class FlexBookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = FlexBookSerializer


class PlainFlexBookViewSet(FlexBookViewSet):
    autoprefetch = False


# --------------------------------------------------------- fields= at the root


def test_fields_keyword_through_the_decorator_plans_only_those_fields(make_world):
    make_world(3)
    rows = list(Book.objects.all())
    expected = dumped(DocsBookSerializer(rows, many=True, fields=["id", "title"]).data)

    data, queries = counted(
        lambda: DocsBookSerializer(Book.objects.all(), many=True, fields=["id", "title"]).data
    )

    assert dumped(data) == expected
    assert queries == 1  # the full plan's prefetches of authors and reviews are gone


def test_fields_keyword_of_nested_relations_keeps_their_plan(make_world):
    make_world(3)
    kwargs = {"fields": ["id", "reviews"]}
    expected = dumped(DocsBookSerializer(list(Book.objects.all()), many=True, **kwargs).data)

    data, queries = counted(
        lambda: DocsBookSerializer(Book.objects.all(), many=True, **kwargs).data
    )

    assert dumped(data) == expected
    assert queries == 2  # books; reviews joined to their reviewer
    assert plan_for(DocsBookSerializer, kwargs=kwargs).select_related == ()


def test_each_fields_keyword_has_its_plan_and_the_full_plan_is_kept():
    full = plan_for(DocsBookSerializer)
    titles = plan_for(DocsBookSerializer, kwargs={"fields": ["id", "title"]})
    category = plan_for(DocsBookSerializer, kwargs={"fields": ("category",)})

    assert full.query_count == 3
    assert titles.query_count == 1
    assert titles.relations == ()
    assert category.select_related == ("category",)
    assert category.query_count == 1
    assert plan_for(DocsBookSerializer, kwargs={"fields": ["id", "title"]}) is titles


# ------------------------------------------------------ NetBox: brief, fields=


def nb_request(view_class, query: str = "", action: str = "list", **kwargs):
    view = view_class.as_view({"get": action})
    return view(factory.get(f"/books/?{query}"), **kwargs)


@pytest.mark.parametrize(
    ("query", "expected_queries"),
    [("", 2), ("brief=1", 1), ("fields=id,title,category", 1), ("fields=id,authors", 2)],
)
def test_netbox_brief_and_fields_plan_what_is_rendered(make_world, query, expected_queries):
    make_world(3)
    expected = nb_request(PlainNBBookViewSet, query).data

    response, queries = counted(nb_request, NBBookViewSet, query)

    assert response.status_code == 200
    assert dumped(response.data) == dumped(expected)
    assert queries == expected_queries


def test_netbox_retrieve_in_brief_mode(make_world):
    book = make_world(2).books[0]
    expected = nb_request(PlainNBBookViewSet, "brief=1", "retrieve", pk=book.pk).data

    response, queries = counted(nb_request, NBBookViewSet, "brief=1", "retrieve", pk=book.pk)

    assert dumped(response.data) == dumped(expected)
    assert queries == 1


def test_brief_mode_needs_no_annotation_the_full_mode_renders():
    """The view annotates ``review_count`` only when it is rendered: the brief plan does
    not ask for it (it was a ``PlanError`` when the full plan was used)."""
    brief = planner.plan_for_queryset(
        NBBookSerializer, Book.objects.all(), kwargs={"fields": ("id", "title")}
    )

    assert brief.relations == ()
    with pytest.raises(PlanError, match=r"source 'review_count' names nothing on testapp\.Book"):
        planner.plan_for_queryset(NBBookSerializer, Book.objects.all())


def test_nested_brief_serializers_are_planned_with_their_brief_fields():
    plan = plan_for(NBBookSerializer, kwargs={"fields": ["id", "editor"]})

    # The nested editor renders id and name only (its brief fields): no address join.
    assert plan.select_related == ("editor",)


# -------------------------------------------------- flex-fields: fields, omit, expand


@pytest.mark.parametrize(
    ("query", "expected_queries"),
    [
        ("", 1),
        ("expand=category", 1),
        ("expand=category,authors", 2),
        ("expand=authors&fields=id,authors", 2),
        ("expand=category,authors&omit=authors", 1),
        ("expand=category&fields=id,title", 1),
    ],
)
def test_flex_fields_query_parameters(make_world, query, expected_queries):
    make_world(3)
    expected = nb_request(PlainFlexBookViewSet, query).data

    response, queries = counted(nb_request, FlexBookViewSet, query)

    assert dumped(response.data) == dumped(expected)
    assert queries == expected_queries


def test_selection_prunes_a_tree_built_once_per_expand(rf):
    def plan(query: str):
        return plan_for(FlexBookSerializer, context={"request": Request(rf.get(f"/?{query}"))})

    both = plan("expand=category,authors")
    without_authors = plan("expand=category,authors&omit=authors")
    only_category = plan("expand=category,authors&fields=category")

    assert both.select_related == ("category",)
    assert both.query_count == 2
    assert without_authors.select_related == ("category",)
    assert without_authors.query_count == 1
    assert only_category.query_count == 1
    trees = [key for key in planner._trees if key[0] is FlexBookSerializer]
    assert trees == [(FlexBookSerializer, (("expand", ("category", "authors")),))]
    assert plan("expand=category,authors") is both


def test_dotted_paths_select_below_a_nested_serializer():
    selection = Selection(fields=["id", "reviews.reviewer.name"], omit="reviews.id")

    assert [
        selection.admits(path)
        for path in ("id", "title", "reviews", "reviews.id", "reviews.rating", "reviews.reviewer")
    ] == [True, False, True, False, False, True]
    assert selection.admits("reviews.reviewer.name")
    assert not selection.admits("reviews.reviewer.id")


class SelectingBookSerializer(DocsBookSerializer):
    @classmethod
    def autoprefetch_selection(cls, kwargs, context):
        return Selection(fields=kwargs.get("fields"), omit=context.get("omit", ()))


def test_a_nested_omit_drops_the_relation_below(make_world):
    make_world(3)
    plan = plan_for(SelectingBookSerializer, context={"omit": ["reviews.reviewer"]})

    assert [prefetch.prefetch_to for prefetch in plan.prefetches] == ["authors", "reviews"]
    reviews = plan.relations[-1]
    assert reviews.attr == "reviews"
    assert reviews.children == ()


class BadSelectionSerializer(DocsBookSerializer):
    @classmethod
    def autoprefetch_selection(cls, kwargs, context):
        return ["id"]


class UnhashableBuildSerializer(DocsBookSerializer):
    @classmethod
    def autoprefetch_selection(cls, kwargs, context):
        return Selection(build={"user": object()})


def test_a_selection_method_returning_something_else_is_a_plan_error():
    with pytest.raises(PlanError) as excinfo:
        plan_for(BadSelectionSerializer)
    assert str(excinfo.value) == (
        "BadSelectionSerializer.autoprefetch_selection() returned ['id']; return a "
        "drf_autoprefetch.selection.Selection, or None when every field is rendered."
    )
    with pytest.raises(PlanError) as excinfo:
        plan_for(UnhashableBuildSerializer)
    assert str(excinfo.value) == (
        "UnhashableBuildSerializer.autoprefetch_selection() gave a build value of type "
        "object; give strings, numbers, or lists and dicts of them."
    )


# ----------------------------------------- fields built in __init__ / get_fields


class InitOverridingSerializer(serializers.ModelSerializer):
    """Overrides ``__init__`` without changing its fields (labels, say)."""

    built: ClassVar[int] = 0
    category = CategorySerializer()

    class Meta:
        model = Book
        fields = ["id", "title", "category"]

    def __init__(self, *args, **kwargs):
        type(self).built += 1
        super().__init__(*args, **kwargs)
        self.fields["title"].label = "Book title"


def test_a_serializer_overriding_init_is_built_once_not_per_request(api_request):
    InitOverridingSerializer.built = 0
    first = plan_for(InitOverridingSerializer, context={"request": api_request})
    for _ in range(5):
        request = Request(factory.get("/"))
        assert plan_for(InitOverridingSerializer, context={"request": request}) is first

    assert InitOverridingSerializer.built == 1
    assert first.select_related == ("category",)


class QueryingInitSerializer(serializers.ModelSerializer):
    """Like django-helpdesk's: ``__init__`` reads the database."""

    class Meta:
        model = Book
        fields = ["id", "title", "category"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if Category.objects.exists():
            self.fields["category"] = CategorySerializer()


def test_planning_a_querying_init_runs_its_query_once(make_world):
    make_world(2)
    _, first = counted(optimize, Book.objects.all(), QueryingInitSerializer)
    _, again = counted(optimize, Book.objects.all(), QueryingInitSerializer)

    assert (first, again) == (1, 0)


class StaffOnlyEditorSerializer(serializers.ModelSerializer):
    """Fields from the request's user: no key stands for them, so it is built."""

    editor = PersonSerializer(allow_null=True)
    category = CategorySerializer()

    class Meta:
        model = Book
        fields = ["id", "category", "editor"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None or not request.user.is_staff:
            fields.pop("editor")
        return fields


def test_fields_from_the_requests_user_are_planned_per_user():
    anonymous = Request(factory.get("/"))
    anonymous.user = SimpleNamespace(is_staff=False)
    staff_request = Request(factory.get("/"))
    staff_request.user = SimpleNamespace(is_staff=True)

    assert plan_for(StaffOnlyEditorSerializer, context={"request": anonymous}).select_related == (
        "category",
    )
    assert plan_for(
        StaffOnlyEditorSerializer, context={"request": staff_request}
    ).select_related == ("category", "editor")
    # The request is no key: each request builds the serializer and gets its own plan.
    again = [
        plan_for(StaffOnlyEditorSerializer, context={"request": request}).select_related
        for request in (staff_request, anonymous)
    ]
    assert again == [("category", "editor"), ("category",)]


def test_context_keys_read_are_the_cache_key():
    class Reads(serializers.ModelSerializer):
        built: ClassVar[int] = 0
        editor = PersonSerializer(allow_null=True)

        class Meta:
            model = Book
            fields = ["id", "editor"]

        def __init__(self, *args, **kwargs):
            type(self).built += 1
            super().__init__(*args, **kwargs)
            if not self.context.get("with_editor"):
                self.fields.pop("editor")

    plans = [
        plan_for(Reads, context={"with_editor": value, "request": object()})
        for value in (True, False, True, False, None)
    ]

    assert [plan.select_related for plan in plans] == [("editor",), (), ("editor",), (), ()]
    assert Reads.built == 3  # True, False, None: the request is not read, not a key
    assert planner._variance[Reads] == frozenset({"with_editor"})


def test_context_reads_record_keys_and_whole_reads():
    reads = ContextReads({"a": 1, "b": 2})
    reads.get("a")
    assert "c" not in reads
    assert reads.read == {"a", "c"}
    assert not reads.whole
    dict(reads)
    assert reads.whole


# ---------------------------------------------------------- cache and threads


def test_the_dynamic_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(planner, "DYNAMIC_CACHE_SIZE", 4)
    for size in range(1, 10):
        plan_for(DocsBookSerializer, kwargs={"fields": ["id", "title", "authors"][: size % 3 + 1]})
        plan_for(SelectingBookSerializer, kwargs={"fields": [f"f{size}"]})

    assert len(planner._dynamic) <= 4


def test_threads_asking_for_one_selection_build_it_once():
    barrier = threading.Barrier(8)
    plans = []

    def ask():
        barrier.wait()
        plans.append(plan_for(DocsBookSerializer, kwargs={"fields": ["id", "authors"]}))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(plans) == 8
    assert all(plan is plans[0] for plan in plans)
    assert planner.build_count == 1


def test_a_static_serializer_with_unknown_kwargs_is_not_rebuilt():
    plan = plan_for(PersonSerializer, kwargs={"read_only": True})

    assert plan_for(PersonSerializer) is plan
    assert planner.has_static_plan(PersonSerializer)


# ---------------------------------------------------------- the mixin's kwargs


class BriefFromQuery:
    """``get_serializer()`` in a base class the mixin comes before."""

    def get_serializer(self, *args, **kwargs):
        if self.request.query_params.get("brief"):
            kwargs["fields"] = NBBookSerializer.Meta.brief_fields
        return super().get_serializer(*args, **kwargs)


class MixinFirstViewSet(AutoPrefetchMixin, BriefFromQuery, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.order_by("title", "id")
    serializer_class = NBBookSerializer


class PlainMixinFirstViewSet(MixinFirstViewSet):
    autoprefetch = False


def test_kwargs_of_a_get_serializer_below_the_mixin_are_planned(make_world):
    make_world(3)
    expected = nb_request(PlainMixinFirstViewSet, "brief=1").data

    response, queries = counted(nb_request, MixinFirstViewSet, "brief=1")

    assert dumped(response.data) == dumped(expected)
    assert queries == 1


class MetaReadingViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """NetBox's ``requested_fields`` reads ``get_serializer_class().Meta``."""

    queryset = Book.objects.order_by("title", "id")
    serializer_class = NBBookSerializer

    def get_serializer(self, *args, **kwargs):
        if self.request.query_params.get("brief"):
            kwargs["fields"] = self.get_serializer_class().Meta.brief_fields
        return super().get_serializer(*args, **kwargs)


def test_a_get_serializer_reading_the_class_meta_is_planned_with_its_kwargs(make_world):
    make_world(3)
    plain = type("Plain", (MetaReadingViewSet,), {"autoprefetch": False})
    expected = nb_request(plain, "brief=1").data

    response, queries = counted(nb_request, MetaReadingViewSet, "brief=1")

    assert dumped(response.data) == dumped(expected)
    assert queries == 1


class FailingGetSerializerViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = DocsBookSerializer

    def get_serializer(self, *args, **kwargs):
        kwargs["fields"] = self.fields_chosen_by_list  # set only by an action of its own
        return super().get_serializer(*args, **kwargs)


def test_a_get_serializer_failing_outside_its_action_gives_no_kwargs():
    view = FailingGetSerializerViewSet()
    view.request = Request(factory.get("/"))
    view.format_kwarg = None
    view.kwargs = {}

    assert view.get_autoprefetch_kwargs() == {}
    assert "get_serializer_class" not in vars(view)


# ------------------------------------------- fields from more than the arguments

_current_staff: ContextVar[bool] = ContextVar("test_current_staff", default=False)


class ContextVarFieldsSerializer(serializers.ModelSerializer):
    """Fields from a context variable (a middleware's current user): no argument holds
    them, so the serializer is built for each request."""

    editor = PersonSerializer(allow_null=True)

    class Meta:
        model = Book
        fields = ["id", "editor"]

    def get_fields(self):
        fields = super().get_fields()
        if not _current_staff.get():
            fields.pop("editor")
        return fields


def test_fields_from_a_context_variable_are_planned_per_request():
    plans = []
    for staff in (False, True, False):
        token = _current_staff.set(staff)
        try:
            plans.append(plan_for(ContextVarFieldsSerializer).select_related)
        finally:
            _current_staff.reset(token)

    assert plans == [(), ("editor",), ()]


def test_code_reading_only_its_arguments_is_keyed_by_them():
    from drf_autoprefetch.closed import builds_from_arguments

    members = ("__init__", "get_fields", "get_field_names", "fields")
    assert builds_from_arguments(DynamicFieldsModelSerializer, members, ("rest_framework",))
    assert builds_from_arguments(NBBookSerializer, members, ("rest_framework",))
    assert not builds_from_arguments(ContextVarFieldsSerializer, members, ("rest_framework",))


def test_selections_naming_no_field_share_one_plan(rf):
    first = plan_for(FlexBookSerializer, context={"request": Request(rf.get("/?fields=nope"))})
    again = plan_for(FlexBookSerializer, context={"request": Request(rf.get("/?fields=zzz"))})

    assert again is first
    assert first.relations == ()


class Registered(serializers.ModelSerializer):
    """A base class keeping a registry of its subclasses, as some projects do."""

    registry: ClassVar[list[type]] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Registered.registry.append(cls)


class RegisteredBookSerializer(Registered, DynamicFieldsModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title"]


class RegisteredViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = RegisteredBookSerializer

    def get_serializer(self, *args, **kwargs):
        kwargs["fields"] = ["id"]
        return super().get_serializer(*args, **kwargs)


def test_reading_get_serializers_arguments_defines_no_class():
    before = list(Registered.registry)
    view = RegisteredViewSet()
    view.request = Request(factory.get("/"))
    view.format_kwarg = None
    view.kwargs = {}

    assert view.get_autoprefetch_kwargs()["fields"] == ["id"]
    assert Registered.registry == before


def test_what_is_known_of_a_serializers_code_does_not_keep_it_alive():
    import gc
    import weakref

    from drf_autoprefetch import closed

    namespace: dict = {}
    exec("def get_fields(self):\n    return super().get_fields()\n", namespace)
    function = namespace.pop("get_fields")
    # Source that cannot be read: not closed, and remembered as such while it lives.
    assert closed._closed(function) is False
    assert closed._found[function] is False
    gone = weakref.ref(function)
    del function
    gc.collect()

    assert gone() is None


class ContextQueryingViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """A context that runs a query (pretalx's ``questions_for_user``)."""

    queryset = Book.objects.all()
    serializer_class = InitOverridingSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "people": Person.objects.exists()}


class GivenContextViewSet(ContextQueryingViewSet):
    def get_autoprefetch_kwargs(self):
        return {"context": {"request": self.request}}


class FieldsOverrideViewSet(ContextQueryingViewSet):
    """pretalx's submissions: ``get_serializer()`` passes the fields a query asks for."""

    serializer_class = DocsBookSerializer

    def get_serializer(self, *args, **kwargs):
        kwargs["fields"] = ["id", "title", "authors"]
        return super().get_serializer(*args, **kwargs)


class OwnPagination(PageNumberPagination):
    """pretalx's: DRF's page numbers, or limit and offset where both are given."""

    page_size = 2

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(queryset, request, view=view)


class PagedContextViewSet(ContextQueryingViewSet):
    pagination_class = OwnPagination


class OwnContextOverrideViewSet(FieldsOverrideViewSet):
    """An override passing a context of its own: the serializer renders with it."""

    def get_serializer(self, *args, **kwargs):
        kwargs["context"] = {"request": self.request, "people": False}
        return super().get_serializer(*args, **kwargs)


@pytest.mark.parametrize(
    ("view_class", "expected_queries"),
    [
        (ContextQueryingViewSet, 1 + 1),  # the context's query, once; the books
        (PagedContextViewSet, 1 + 2),  # the context's, once; the count, the page
        (GivenContextViewSet, 1 + 1),
        (FieldsOverrideViewSet, 1 + 2),  # the context's, once; books, their authors
        # Books, their authors: DRF would build the view's context and drop it
        # (``setdefault``), the mixin's get_serializer() builds none.
        (OwnContextOverrideViewSet, 2),
    ],
)
def test_a_context_that_queries_runs_once_as_drf_runs_it(make_world, view_class, expected_queries):
    """pretalx's and Label Studio's views ran the context's query once more to plan."""
    make_world(2)
    view = view_class.as_view({"get": "list"})
    plain = type("Plain", (view_class,), {"autoprefetch": False}).as_view({"get": "list"})
    with CaptureQueriesContext(connection) as unoptimized:
        expected = json.dumps(plain(APIRequestFactory().get("/")).data)

    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get("/"))

    assert json.dumps(response.data) == expected
    assert len(captured) == expected_queries <= len(unoptimized)


class CheckedBookSerializer(serializers.ModelSerializer):
    authors = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "authors"]

    def get_authors(self, book):
        if self.context.get("checked"):
            return [author.name for author in book.authors.all()]
        return None


class CheckingViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """A permission check setting what the context holds, after ``get_queryset()``."""

    queryset = Book.objects.all()
    serializer_class = CheckedBookSerializer

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        self.checked = True

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "checked": getattr(self, "checked", False)}


def test_the_context_is_built_again_where_the_view_runs_code_before_rendering(make_world):
    """The context built to plan is not the one a detail view renders with: its
    permission check ran in between."""
    make_world(2)
    book = Book.objects.order_by("pk").first()
    request = APIRequestFactory().get(f"/{book.pk}/")
    plain = type("Plain", (CheckingViewSet,), {"autoprefetch": False}).as_view({"get": "retrieve"})
    expected = plain(request, pk=book.pk).data

    response = CheckingViewSet.as_view({"get": "retrieve"})(request, pk=book.pk)

    assert response.data == expected
    assert response.data["authors"] == [author.name for author in book.authors.all()]


def test_a_context_that_queries_runs_once_more_only_until_the_plan_is_known(make_world):
    """A serializer whose ``__init__`` reads no context key is planned without one once
    its plan is cached: later requests build no context for it (pretix's payments)."""
    make_world(2)
    view = ContextQueryingViewSet.as_view({"get": "list"})
    plain = type("Plain", (ContextQueryingViewSet,), {"autoprefetch": False})
    expected = json.dumps(plain.as_view({"get": "list"})(APIRequestFactory().get("/")).data)
    view(APIRequestFactory().get("/"))  # plans, with a context

    with CaptureQueriesContext(connection) as captured:
        response = view(APIRequestFactory().get("/"))

    assert json.dumps(response.data) == expected
    assert len(captured) == 1 + 1  # the context's query once, as DRF runs it; the books


class WriteOnlyManySerializer(serializers.ModelSerializer):
    """Like Nautobot's serializers under ``?exclude_m2m=true``: the ``fields`` property
    marks to-many fields write-only for one request."""

    class Meta:
        model = Book
        fields = ["id", "title", "authors"]

    @property
    def fields(self):
        fields = super().fields
        request = self.context.get("request")
        if request is not None and request.query_params.get("exclude_m2m") == "true":
            for field in fields.values():
                if isinstance(field, serializers.ManyRelatedField):
                    field.write_only = True
        return fields


@pytest.mark.parametrize(
    "queries",
    [("exclude_m2m=true", ""), ("", "exclude_m2m=true")],
    ids=["excluded first", "full first"],
)
def test_fields_made_write_only_per_request_get_the_plan_of_each_request(make_world, queries):
    make_world(3)
    for query, expected_prefetches, expected_queries in (
        (query, ["authors"] if not query else [], 2 if not query else 1) for query in queries
    ):
        context = {"request": Request(APIRequestFactory().get(f"/?{query}"))}
        plan = plan_for(WriteOnlyManySerializer, context=context)
        rows = optimize(Book.objects.all(), WriteOnlyManySerializer, context=context)
        expected = WriteOnlyManySerializer(Book.objects.all(), many=True, context=context).data

        with CaptureQueriesContext(connection) as captured:
            data = WriteOnlyManySerializer(rows, many=True, context=context).data

        assert [prefetch.prefetch_to for prefetch in plan.prefetches] == expected_prefetches
        assert data == expected
        assert len(captured) == expected_queries


@pytest.mark.parametrize("view_class", [ContextQueryingViewSet, FieldsOverrideViewSet])
def test_a_view_asking_for_its_queryset_twice_gets_its_context_built_once_more(
    make_world, view_class
):
    """A list whose code asks for the queryset again before rendering: the context kept
    for the serializer is handed over once, whichever call plans."""
    make_world(2)
    view = view_class(action_map={"get": "list"})
    view.request = view.initialize_request(APIRequestFactory().get("/"))
    view.action, view.format_kwarg, view.args, view.kwargs = "list", None, (), {}

    first, second = view.get_queryset(), view.get_queryset()

    assert list(first) == list(second)
    with CaptureQueriesContext(connection) as captured:
        context = view.get_serializer_context()
        again = view.get_serializer_context()
    assert context["people"] is again["people"] is True
    assert len(captured) == 1  # the first is the one kept


class ReadsTheQueryset(BasePermission):
    """NetBox's token permissions: the model of the view's queryset, from get_queryset()."""

    def has_permission(self, request, view):
        return view.get_queryset().model is Book


class TracingViewSet(FieldsOverrideViewSet):
    permission_classes = [ReadsTheQueryset]

    @action(detail=True)
    def trace(self, request, pk=None):
        """NetBox's cable traces: code of its own reads the row from the class-level
        queryset, and builds no serializer of the view's."""
        return Response(_traced(self, pk))


def _traced(view, pk):
    return {"title": view.queryset.get(pk=pk).title}


def test_a_view_planned_before_builds_no_context_to_read_its_serializers_arguments(make_world):
    """NetBox's traces built the view's context (a query) to read ``get_serializer()``'s
    arguments on every request, where DRF builds none."""
    make_world(2)
    book = Book.objects.order_by("pk").first()
    view = TracingViewSet.as_view({"get": "trace"})
    plain = type("Plain", (TracingViewSet,), {"autoprefetch": False}).as_view({"get": "trace"})
    request = APIRequestFactory().get(f"/{book.pk}/trace/")
    expected = plain(request, pk=book.pk).data
    view(request, pk=book.pk)  # plans

    with CaptureQueriesContext(connection) as captured:
        response = view(request, pk=book.pk)

    assert response.data == expected
    assert len(captured) == 1  # the book, as without the mixin
