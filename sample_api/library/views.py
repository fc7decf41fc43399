"""Library endpoints. The querysets stay plain: ``AutoPrefetchMixin`` adds the joins.

Outside viewsets, ``@auto_prefetch`` on ``BookSerializer`` does the same: the function
view and the ``APIView`` below hand it a plain QuerySet.
"""

from django.shortcuts import get_object_or_404
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_autoprefetch import AutoPrefetchMixin
from library.models import Author, Book, Publisher
from library.serializers import (
    AuthorSerializer,
    BookSerializer,
    FlexibleBookSerializer,
    PublisherWithBooksSerializer,
)


class BookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookSerializer


class FlexibleBookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """Books as ``?fields=``, ``?omit=`` and ``?expand=`` ask: each request gets the
    plan of the fields it renders."""

    queryset = Book.objects.all()
    serializer_class = FlexibleBookSerializer


class AuthorViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer


class PublisherViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Publisher.objects.all()
    serializer_class = PublisherWithBooksSerializer


class RecentBooksQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)


@api_view(["GET"])
def recent_books(request: Request) -> Response:
    """The latest published books (``?limit=``, 10 by default), nested as in ``books/``."""
    query = RecentBooksQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    latest = Book.objects.order_by("-published", "-id")[: query.validated_data["limit"]]
    return Response(BookSerializer(latest, many=True).data)


class PublisherBooksView(APIView):
    """The books of one publisher, read through the related manager ``book_set``."""

    def get(self, request: Request, pk: int) -> Response:
        publisher = get_object_or_404(Publisher, pk=pk)
        return Response(BookSerializer(publisher.book_set.all(), many=True).data)
