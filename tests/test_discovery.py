"""Discovery: the generic views of the URLconf, per action, and the registered serializers."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import include, path
from rest_framework import generics, mixins, serializers, viewsets

from drf_autoprefetch import decorators
from drf_autoprefetch.discovery import Target, discover, serializer_for, view_targets
from tests import urls_only, views
from tests.testapp import serializers as shapes
from tests.testapp.models import Book

pytestmark = pytest.mark.no_db

BOOKS = "tests.views.BookViewSet"


class SearchSerializer(serializers.Serializer):
    q = serializers.CharField()


class BookSearch(generics.ListAPIView):
    """A serializer without ``Meta.model``: nothing to plan."""

    queryset = Book.objects.all()
    serializer_class = SearchSerializer


class NoSerializer(generics.GenericAPIView):
    queryset = Book.objects.all()


urlpatterns = [
    path("api/", include("tests.views")),
    path("api/v2/", include([path("", include("tests.views"))])),
    path("search/", BookSearch.as_view()),
    path("nothing/", NoSerializer.as_view()),
    path(
        "titles/",
        generics.ListAPIView.as_view(
            queryset=Book.objects.all(), serializer_class=shapes.BookTitleSerializer
        ),
    ),
]


@pytest.fixture(autouse=True)
def _no_registered_serializers(monkeypatch):
    monkeypatch.setattr(decorators, "_registry", [])


def book_targets():
    """Every action but ``destroy``, which renders no row."""
    return [
        Target(BOOKS, "list", shapes.BookWithAuthorsSerializer),
        Target(BOOKS, "create", shapes.BookTitleSerializer),
        Target(BOOKS, "retrieve", shapes.BookTitleSerializer),
        Target(BOOKS, "update", shapes.BookTitleSerializer),
        Target(BOOKS, "partial_update", shapes.BookTitleSerializer),
        Target(BOOKS, "reviews", shapes.BookReviewsSerializer),
    ]


@override_settings(ROOT_URLCONF=__name__)
def test_every_generic_view_action_in_urlconf_order_without_repeats():
    assert discover() == [
        *book_targets(),
        Target("tests.views.PersonList", None, shapes.PersonBriefSerializer),
        Target("rest_framework.generics.ListAPIView", None, shapes.BookTitleSerializer),
    ]


def test_default_urlconf_includes_the_api_views():
    found = [target for target in discover() if target.target.startswith("tests.views.")]

    assert found == [
        *book_targets(),
        Target("tests.views.PersonList", None, shapes.PersonBriefSerializer),
    ]


@override_settings(ROOT_URLCONF=__name__)
def test_registered_serializers_come_after_the_views(monkeypatch):
    monkeypatch.setattr(
        decorators, "_registry", [shapes.ChapterSerializer, shapes.BookTitleSerializer]
    )

    found = discover()

    assert found[-2:] == [
        Target("tests.testapp.serializers.ChapterSerializer", None, shapes.ChapterSerializer),
        Target("tests.testapp.serializers.BookTitleSerializer", None, shapes.BookTitleSerializer),
    ]
    assert found[-2].serializer_path == "tests.testapp.serializers.ChapterSerializer"


def test_view_needing_a_request_falls_back_to_serializer_class():
    assert serializer_for(views.PersonList, None, {}) is shapes.PersonBriefSerializer


def test_action_initkwargs_choose_the_serializer():
    initkwargs = {"serializer_class": shapes.BookReviewsSerializer}

    assert serializer_for(views.BookViewSet, "reviews", initkwargs) is shapes.BookReviewsSerializer
    assert serializer_for(views.BookViewSet, "reviews", {}) is shapes.BookTitleSerializer


def test_view_without_any_serializer_gives_none():
    assert serializer_for(NoSerializer, None, {}) is None


def test_routed_view_targets_come_from_the_urlconf():
    assert view_targets(views.BookViewSet) == book_targets()


@override_settings(ROOT_URLCONF=__name__)
def test_unrouted_viewset_gets_its_standard_and_extra_actions():
    class Unrouted(views.BookViewSet):
        pass

    found = view_targets(Unrouted)

    assert [(target.action, target.serializer) for target in found] == [
        (target.action, target.serializer) for target in book_targets()
    ]
    assert {target.target for target in found} == {f"{__name__}.{Unrouted.__qualname__}"}


def test_unrouted_generic_view_has_one_target_without_action():
    class Titles(generics.ListAPIView):
        serializer_class = shapes.BookTitleSerializer

    assert view_targets(Titles) == [
        Target(f"{__name__}.{Titles.__qualname__}", None, shapes.BookTitleSerializer)
    ]


def test_viewset_that_only_destroys_has_no_targets():
    class Deletions(mixins.DestroyModelMixin, viewsets.GenericViewSet):
        queryset = Book.objects.all()
        serializer_class = shapes.BookTitleSerializer

    assert view_targets(Deletions) == []


def test_view_without_a_model_serializer_has_no_targets():
    assert view_targets(BookSearch) == []
    assert view_targets(NoSerializer) == []


@override_settings()
def test_no_root_urlconf_means_no_views():
    from django.conf import settings

    del settings.ROOT_URLCONF

    assert discover() == []


@override_settings(ROOT_URLCONF=urls_only.URLCONF)
def test_serializer_only_the_urlconf_imports_is_found(monkeypatch):
    urls_only.forget(monkeypatch)

    found = discover()

    assert [(target.target, target.action) for target in found] == [(urls_only.SERIALIZER, None)]
    assert found[0].serializer_path == urls_only.SERIALIZER
