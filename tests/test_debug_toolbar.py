"""The Debug Toolbar panel, through the toolbar's own machinery: the plans of the
request and each query marked planned or unplanned."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from debug_toolbar.toolbar import DebugToolbar
from django.test import RequestFactory, override_settings
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_autoprefetch import AutoPrefetchMixin, optimize
from tests.testapp import serializers as shapes
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db

PANEL = "drf_autoprefetch.contrib.debug_toolbar.AutoPrefetchPanel"
TOOLBAR = override_settings(
    DEBUG_TOOLBAR_PANELS=[PANEL],
    DEBUG_TOOLBAR_CONFIG={"SHOW_TOOLBAR_CALLBACK": lambda request: True},
)


class BookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = shapes.BookWithAuthorsSerializer


class ReviewCountSerializer(serializers.ModelSerializer):
    review_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "review_count"]

    def get_review_count(self, book):
        return book.reviews.filter(rating__gte=3).count()


class UnplannedViewSet(BookViewSet):
    serializer_class = ReviewCountSerializer


class OptimizingView(APIView):
    def get(self, request):
        rows = optimize(Book.objects.all(), shapes.BookWithAuthorsSerializer)
        return Response(shapes.BookWithAuthorsSerializer(rows, many=True).data)


def through_toolbar(view):
    """The panel after the toolbar ran ``view`` for one GET request."""
    request = RequestFactory().get("/books/")
    toolbar = DebugToolbar(request, view)
    panel = toolbar.get_panel_by_id("AutoPrefetchPanel")
    panel.enable_instrumentation()
    response = panel.process_request(request)
    panel.generate_stats(request, response)
    panel.disable_instrumentation()
    return panel, response


@TOOLBAR
def test_the_panel_shows_the_plan_and_marks_each_query_planned(world):
    panel, response = through_toolbar(BookViewSet.as_view({"get": "list"}))

    assert response.status_code == 200
    stats = panel.get_stats()
    (plan,) = stats["plans"]
    assert plan["source"] == "tests.test_debug_toolbar.BookViewSet list"
    assert plan["serializer"] == "tests.testapp.serializers.BookWithAuthorsSerializer"
    assert plan["queries"] == 2
    assert plan["tree"][0] == "testapp.Book"
    assert [query["status"] for query in stats["queries"]] == ["planned", "planned"]
    assert [query["node"] for query in stats["queries"]] == [
        "testapp.Book rows",
        "prefetch authors (testapp.Person)",
    ]
    assert stats["counts"] == {"planned": 2, "unplanned": 0, "other": 0}
    assert panel.nav_subtitle == "1 plan, 2 planned"
    content = panel.content
    assert "tests.test_debug_toolbar.BookViewSet list" in content
    assert "prefetch authors (testapp.Person)" in content
    assert "Queries: 2 planned, 0 unplanned, 0 other (plans predict 2)" in content


@TOOLBAR
def test_an_unplanned_query_names_its_field_and_the_hint(world):
    panel, response = through_toolbar(UnplannedViewSet.as_view({"get": "list"}))

    assert response.status_code == 200  # recorded, never refused
    stats = panel.get_stats()
    unplanned = [query for query in stats["queries"] if query["status"] == "unplanned"]
    assert len(unplanned) == Book.objects.count()
    assert {query["field"] for query in unplanned} == {"ReviewCountSerializer.review_count"}
    assert {query["hint"] for query in unplanned} == {'@hints(prefetch_related=["reviews"])'}
    assert panel.nav_subtitle == f"1 plan, 1 planned, {len(unplanned)} unplanned"
    assert "ReviewCountSerializer.review_count" in panel.content


@TOOLBAR
def test_plans_applied_by_optimize_are_shown_too(world):
    panel, _ = through_toolbar(OptimizingView.as_view())

    stats = panel.get_stats()
    assert [plan["source"] for plan in stats["plans"]] == ["optimize()"]
    assert stats["counts"]["planned"] == 2


def test_importing_the_package_never_imports_the_toolbar():
    code = textwrap.dedent(
        """
        import sys
        import drf_autoprefetch
        import drf_autoprefetch.observe
        assert "debug_toolbar" not in sys.modules, sorted(sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
