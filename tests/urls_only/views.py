"""An ``APIView`` rendering an ``@auto_prefetch`` serializer; only ``urls`` imports it."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_autoprefetch import auto_prefetch
from tests.testapp.models import Chapter


@auto_prefetch
class ChapterTitleSerializer(serializers.ModelSerializer):
    """A method field without hints: a warning for the checks to report."""

    book_title = serializers.SerializerMethodField()

    class Meta:
        model = Chapter
        fields = ["id", "title", "book_title"]

    def get_book_title(self, chapter: Chapter) -> str:
        return chapter.book.title


class ChapterTitles(APIView):
    def get(self, request: Request) -> Response:
        return Response(ChapterTitleSerializer(Chapter.objects.all(), many=True).data)
