"""API views and their routes, for URL discovery (``tests.urls`` includes them under ``api/``).

A router with a viewset that picks a serializer per action, a generic view that picks
one from the request, and an ``APIView`` with no serializer at all.
"""

from django.urls import path
from rest_framework import generics, routers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_autoprefetch import AutoPrefetchMixin
from tests.testapp.models import Book, Person
from tests.testapp.serializers import (
    BookReviewsSerializer,
    BookTitleSerializer,
    BookWithAuthorsSerializer,
    PersonBriefSerializer,
    PersonWithAddressSerializer,
)


class BookViewSet(AutoPrefetchMixin, viewsets.ModelViewSet):
    """Authors in the list, the bare title elsewhere, reviews on their own route."""

    queryset = Book.objects.all()
    serializer_class = BookTitleSerializer

    def get_serializer_class(self):
        if self.action == "list":
            return BookWithAuthorsSerializer
        return super().get_serializer_class()

    @action(detail=True, serializer_class=BookReviewsSerializer)
    def reviews(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)


class PersonList(AutoPrefetchMixin, generics.ListAPIView):
    """Picks its serializer from the request: discovery falls back to ``serializer_class``."""

    queryset = Person.objects.all()
    serializer_class = PersonBriefSerializer

    def get_serializer_class(self):
        if "address" in self.request.query_params:
            return PersonWithAddressSerializer
        return self.serializer_class


class Ping(APIView):
    """Not a generic view: there is nothing to plan."""

    def get(self, request):
        return Response({"ping": "pong"})


router = routers.SimpleRouter()
router.register("books", BookViewSet, basename="api-book")

urlpatterns = [
    *router.urls,
    path("people/", PersonList.as_view(), name="api-person-list"),
    path("ping/", Ping.as_view(), name="api-ping"),
]
