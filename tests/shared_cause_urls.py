"""A URLconf whose two views share one unplannable method field (an inherited one)."""

from __future__ import annotations

from django.urls import path
from rest_framework import generics

from drf_autoprefetch import AutoPrefetchMixin
from tests.test_real_world import BookDisplaySerializer, NestedChapterSerializer
from tests.testapp.models import Book, Chapter


class BookDisplayList(AutoPrefetchMixin, generics.ListAPIView):
    queryset = Book.objects.all()
    serializer_class = BookDisplaySerializer


class ChapterDisplayList(AutoPrefetchMixin, generics.ListAPIView):
    queryset = Chapter.objects.all()
    serializer_class = NestedChapterSerializer


urlpatterns = [
    path("books/", BookDisplayList.as_view()),
    path("chapters/", ChapterDisplayList.as_view()),
]
