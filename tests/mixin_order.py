"""Views listing ``AutoPrefetchMixin`` before or after the DRF view class, and their routes.

Only the views whose ``get_queryset()`` never reaches the mixin are misplaced: the
mixin listed after the DRF view class, without a ``get_queryset()`` of their own.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from rest_framework import generics, routers, viewsets

from drf_autoprefetch import AutoPrefetchMixin
from tests.testapp.models import Book
from tests.testapp.serializers import BookTitleSerializer, BookWithAuthorsSerializer


class LateBookViewSet(viewsets.ModelViewSet, AutoPrefetchMixin):
    """Misplaced: ``GenericAPIView.get_queryset()`` comes first."""

    queryset = Book.objects.all()
    serializer_class = BookTitleSerializer


class LateChildViewSet(LateBookViewSet):
    """Misplaced by the class it inherits from."""


class LateAuthorList(generics.ListAPIView, AutoPrefetchMixin):
    """Misplaced."""

    queryset = Book.objects.all()
    serializer_class = BookWithAuthorsSerializer


class LateOverrideViewSet(viewsets.ModelViewSet, AutoPrefetchMixin):
    """Not misplaced: its own ``get_queryset()`` is wrapped to apply the plan."""

    serializer_class = BookWithAuthorsSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return Book.objects.order_by("isbn")


class EarlyOverrideViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    """Not misplaced."""

    serializer_class = BookTitleSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return Book.objects.order_by("isbn")


class PlainViewSet(viewsets.ReadOnlyModelViewSet):
    """No mixin at all."""

    queryset = Book.objects.all()
    serializer_class = BookTitleSerializer


router = routers.SimpleRouter()
router.register("late", LateBookViewSet, basename="late")
router.register("late-child", LateChildViewSet, basename="late-child")
router.register("late-override", LateOverrideViewSet, basename="late-override")
router.register("early-override", EarlyOverrideViewSet, basename="early-override")
router.register("plain", PlainViewSet, basename="plain")

urlpatterns = [
    *router.urls,
    path("late-authors/", LateAuthorList.as_view()),
]
