"""Library endpoints. The querysets stay plain: ``AutoPrefetchMixin`` adds the joins."""

from rest_framework import viewsets

from drf_autoprefetch import AutoPrefetchMixin
from library.models import Author, Book, Publisher
from library.serializers import AuthorSerializer, BookSerializer, PublisherWithBooksSerializer


class BookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookSerializer


class AuthorViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer


class PublisherViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Publisher.objects.all()
    serializer_class = PublisherWithBooksSerializer
