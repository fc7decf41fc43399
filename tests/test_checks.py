"""System checks: bad sources and hints are errors, unplannable fields are warnings."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.checks import run_checks
from django.test import override_settings
from django.urls import path
from django.utils.module_loading import import_string
from rest_framework import generics, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from drf_autoprefetch import AutoPrefetchMixin, decorators, hints
from drf_autoprefetch.checks import check_plans, check_serializer, check_views
from drf_autoprefetch.discovery import view_targets
from tests import mixin_order, urls_only
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Chapter, Person

# These tests are about how fields the planner cannot see through are reported: they
# plan without inference, which would see through the test app's simple methods.
pytestmark = [pytest.mark.no_db, pytest.mark.usefixtures("no_inference")]

E001_HINT = (
    "Fix the field's source, or the @hints(...) named in the message; then review the plan "
    "with 'manage.py prefetch_plans tests.test_checks.ChapterBadSourceSerializer'."
)
W001_HINT = (
    "'manage.py prefetch_plans --suggest {path}' prints the @hints(...) line that would "
    "plan it, where one can. To accept it as it is, add 'drf_autoprefetch.W001' to "
    "SILENCED_SYSTEM_CHECKS."
)
W002_HINT = (
    "Let the serializer build its fields from an empty context (read the request with "
    "self.context.get('request')), so that its plan can be checked at start-up."
)


class ChapterBadSourceSerializer(serializers.ModelSerializer):
    book_title = serializers.CharField(source="bok.title")

    class Meta:
        model = Chapter
        fields = ["id", "book_title"]


class ChapterBadHintSerializer(serializers.ModelSerializer):
    book_title = serializers.SerializerMethodField()

    class Meta:
        model = Chapter
        fields = ["id", "book_title"]

    @hints(select_related=["volume"])
    def get_book_title(self, chapter):
        return chapter.book.title


class ChapterUnhintedSerializer(serializers.ModelSerializer):
    book_title = serializers.SerializerMethodField()

    class Meta:
        model = Chapter
        fields = ["id", "book_title"]

    def get_book_title(self, chapter):
        return chapter.book.title


class ChapterRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "title"]

    def get_fields(self):
        fields = super().get_fields()
        if self.context["request"].query_params.get("brief"):
            del fields["title"]
        return fields


class SearchSerializer(serializers.Serializer):
    """No ``Meta.model``: nothing to plan, so a view using it is skipped."""

    q = serializers.CharField()


class BrokenChapters(generics.ListAPIView):
    queryset = Chapter.objects.all()
    serializer_class = ChapterBadSourceSerializer


urlpatterns = [
    path("broken/", BrokenChapters.as_view()),
    path("broken-again/", BrokenChapters.as_view()),
    path(
        "unhinted/",
        generics.ListAPIView.as_view(
            queryset=Chapter.objects.all(), serializer_class=ChapterUnhintedSerializer
        ),
    ),
    path(
        "needs-request/",
        generics.ListAPIView.as_view(
            queryset=Chapter.objects.all(), serializer_class=ChapterRequestSerializer
        ),
    ),
    path(
        "search/",
        generics.ListAPIView.as_view(
            queryset=Book.objects.all(), serializer_class=SearchSerializer
        ),
    ),
]


@pytest.fixture(autouse=True)
def _no_registered_serializers(monkeypatch):
    """Serializers other test modules decorate must not leak into these checks."""
    monkeypatch.setattr(decorators, "_registry", [])


def error_e001():
    return checks.Error(
        "ChapterBadSourceSerializer.book_title: source 'bok' names nothing on testapp.Chapter. "
        "Fix the field's source; relations of Chapter: book. Did you mean 'book' or 'book_id'?",
        hint=E001_HINT,
        obj=ChapterBadSourceSerializer,
        id="drf_autoprefetch.E001",
    )


def warning_w001():
    return checks.Warning(
        "ChapterUnhintedSerializer.book_title: method field "
        "ChapterUnhintedSerializer.get_book_title() has no hints; decorate it with @hints(...) "
        "naming what it reads, or the queries it runs, if any, run once per row.",
        hint=W001_HINT.format(path="tests.test_checks.ChapterUnhintedSerializer"),
        obj=ChapterUnhintedSerializer,
        id="drf_autoprefetch.W001",
    )


def warning_w002():
    return checks.Warning(
        "tests.test_checks.ChapterRequestSerializer could not be planned without a request: "
        "KeyError: 'request'",
        hint=W002_HINT,
        obj=ChapterRequestSerializer,
        id="drf_autoprefetch.W002",
    )


def test_default_urlconf_plans_cleanly():
    assert run_checks(tags=["drf_autoprefetch"]) == []


@override_settings(ROOT_URLCONF=__name__)
def test_check_runs_under_its_tag_with_manage_py_check():
    assert run_checks(tags=["drf_autoprefetch"]) == [error_e001(), warning_w001(), warning_w002()]


@override_settings(ROOT_URLCONF=__name__)
def test_each_serializer_is_reported_once_however_often_it_is_routed():
    assert [message.id for message in check_plans()] == [
        "drf_autoprefetch.E001",
        "drf_autoprefetch.W001",
        "drf_autoprefetch.W002",
    ]


def test_bad_source_is_an_error_naming_the_field_and_the_relations():
    assert check_serializer(ChapterBadSourceSerializer) == [error_e001()]


def test_bad_hint_is_an_error_naming_the_method_and_the_relations():
    assert check_serializer(ChapterBadHintSerializer) == [
        checks.Error(
            "ChapterBadHintSerializer.book_title: hint 'volume' on "
            "ChapterBadHintSerializer.get_book_title: 'volume' is not a relation of "
            "testapp.Chapter. Relations of testapp.Chapter: book.",
            hint=E001_HINT.replace("ChapterBadSourceSerializer", "ChapterBadHintSerializer"),
            obj=ChapterBadHintSerializer,
            id="drf_autoprefetch.E001",
        )
    ]


def test_unhinted_method_field_is_a_warning_with_a_hint():
    assert check_serializer(ChapterUnhintedSerializer) == [warning_w001()]


@override_settings(DRF_AUTOPREFETCH={"ON_UNPLANNABLE": "ignore", "INFER": False})
def test_unplannable_warning_is_silenced_by_on_unplannable_ignore():
    assert check_serializer(ChapterUnhintedSerializer) == []


@override_settings(DRF_AUTOPREFETCH={"ON_UNPLANNABLE": "raise", "INFER": False})
def test_unplannable_field_stays_a_warning_when_on_unplannable_is_raise():
    assert check_serializer(ChapterUnhintedSerializer) == [warning_w001()]


def test_serializer_needing_a_request_is_a_warning_not_a_crash():
    assert check_serializer(ChapterRequestSerializer) == [warning_w002()]


def test_clean_serializer_has_no_messages():
    assert check_serializer(shapes.BookChaptersSerializer) == []


def test_registered_serializers_are_checked(monkeypatch):
    monkeypatch.setattr(decorators, "_registry", [ChapterUnhintedSerializer, SearchSerializer])

    messages = check_plans()

    assert messages[0] == warning_w001()
    assert messages[1].id == "drf_autoprefetch.E001"
    assert messages[1].obj is SearchSerializer
    assert messages[1].msg == (
        "SearchSerializer has no Meta.model; plan_for() needs a ModelSerializer (or a "
        "serializer whose Meta names its model)."
    )
    assert len(messages) == 2


def test_check_is_registered_with_the_drf_autoprefetch_tag():
    assert "drf_autoprefetch" in checks.registry.registry.tags_available()
    assert check_plans in checks.registry.registry.get_checks()


@override_settings(ROOT_URLCONF=urls_only.URLCONF)
def test_serializer_only_the_urlconf_imports_is_checked(monkeypatch):
    urls_only.forget(monkeypatch)

    messages = check_plans()

    serializer = import_string(urls_only.SERIALIZER)
    assert messages == [
        checks.Warning(
            "ChapterTitleSerializer.book_title: method field "
            "ChapterTitleSerializer.get_book_title() has no hints; decorate it with @hints(...) "
            "naming what it reads, or the queries it runs, if any, run once per row.",
            hint=W001_HINT.format(path=urls_only.SERIALIZER),
            obj=serializer,
            id="drf_autoprefetch.W001",
        )
    ]


LATE_MESSAGE = (
    "LateBookViewSet lists AutoPrefetchMixin after the DRF view class ModelViewSet: "
    "GenericAPIView.get_queryset() comes first in the MRO, so no plan is applied and nothing "
    "is optimized."
)
LATE_HINT = (
    "List AutoPrefetchMixin before ModelViewSet: "
    "class LateBookViewSet(AutoPrefetchMixin, ModelViewSet)."
)


@override_settings(ROOT_URLCONF="tests.mixin_order")
def test_mixin_listed_after_the_drf_view_class_is_an_error_naming_the_class():
    assert check_plans() == [
        checks.Error(
            LATE_MESSAGE,
            hint=LATE_HINT,
            obj=mixin_order.LateBookViewSet,
            id="drf_autoprefetch.E002",
        ),
        checks.Error(
            "LateChildViewSet inherits from LateBookViewSet, which lists AutoPrefetchMixin after "
            "the DRF view class ModelViewSet: GenericAPIView.get_queryset() comes first in the "
            "MRO, so no plan is applied and nothing is optimized.",
            hint=LATE_HINT,
            obj=mixin_order.LateChildViewSet,
            id="drf_autoprefetch.E002",
        ),
        checks.Error(
            "LateAuthorList lists AutoPrefetchMixin after the DRF view class ListAPIView: "
            "GenericAPIView.get_queryset() comes first in the MRO, so no plan is applied and "
            "nothing is optimized.",
            hint=(
                "List AutoPrefetchMixin before ListAPIView: "
                "class LateAuthorList(AutoPrefetchMixin, ListAPIView)."
            ),
            obj=mixin_order.LateAuthorList,
            id="drf_autoprefetch.E002",
        ),
    ]


@pytest.mark.parametrize(
    "view",
    [
        mixin_order.LateOverrideViewSet,
        mixin_order.EarlyOverrideViewSet,
        mixin_order.PlainViewSet,
    ],
)
def test_view_whose_get_queryset_applies_the_plan_is_not_an_error(view):
    assert check_views(view_targets(view)) == []


def test_view_defined_in_a_function_is_checked_too():
    class Late(viewsets.ReadOnlyModelViewSet, AutoPrefetchMixin):
        queryset = Chapter.objects.all()
        serializer_class = shapes.ChapterSerializer

    assert [(error.id, error.obj, error.hint) for error in check_views(view_targets(Late))] == [
        (
            "drf_autoprefetch.E002",
            Late,
            "List AutoPrefetchMixin before ReadOnlyModelViewSet: "
            "class Late(AutoPrefetchMixin, ReadOnlyModelViewSet).",
        )
    ]


def test_a_view_rendering_rows_of_another_model_is_a_warning():
    """pulp's imports: a serializer declared for importers renders the imports a view
    lists. DRF renders them; the mixin leaves that queryset unoptimized, and says so."""

    class Imports(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
        queryset = Person.objects.all()
        serializer_class = shapes.BookTitleSerializer

    assert check_views(view_targets(Imports)) == [
        checks.Warning(
            "Imports renders testapp.Person rows with BookTitleSerializer, a serializer for "
            "testapp.Book: its queryset is left unoptimized.",
            hint=(
                "DRF renders such rows as long as they have the fields the serializer reads; "
                "give the view (or the action) a serializer for its rows' model, or a queryset "
                "of the serializer's model, and the plan applies."
            ),
            obj=Imports,
            id="drf_autoprefetch.W003",
        )
    ]


def test_a_view_building_its_own_queryset_is_no_warning_whatever_its_class_queryset():
    """pretix's auto check-in rules: a class-level queryset copied from another plugin,
    of another model, and a get_queryset() returning the serializer's rows."""

    class Rules(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
        queryset = Person.objects.none()
        serializer_class = shapes.BookTitleSerializer

        def get_queryset(self):
            return Book.objects.all()

    assert check_views(view_targets(Rules)) == []

    class TheirRules(viewsets.ReadOnlyModelViewSet):
        queryset = Person.objects.none()
        serializer_class = shapes.BookTitleSerializer

        def get_queryset(self):
            return Book.objects.all()

    class Adopted(AutoPrefetchMixin, TheirRules):
        """The mixin put in front of a view class of the project's, as an adopter does."""

    assert check_views(view_targets(Adopted)) == []


def test_an_action_rendering_rows_of_its_own_is_no_warning():
    """Weblate's ``@action(serializer_class=AnnouncementSerializer)``: the view's
    queryset only finds the row the action acts on; what it renders is its own."""

    class Books(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
        queryset = Book.objects.all()
        serializer_class = shapes.BookTitleSerializer

        @action(detail=True, serializer_class=shapes.ChapterSerializer)
        def chapters(self, request, pk=None):
            book = self.get_object()
            return Response(shapes.ChapterSerializer(book.chapters.all(), many=True).data)

    assert check_views(view_targets(Books)) == []
