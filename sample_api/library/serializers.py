"""Serializers of the library endpoints, nested the way a front end wants them.

The top-level ones are ``@auto_prefetch``: ``BookSerializer(Book.objects..., many=True)``
optimizes the QuerySet itself in a function view or an ``APIView``.
"""

from rest_framework import serializers

from drf_autoprefetch import auto_prefetch
from library.models import Author, AuthorProfile, Book, Publisher, Review


class PublisherSerializer(serializers.ModelSerializer):
    class Meta:
        model = Publisher
        fields = ("id", "name")


class PublisherWithBooksSerializer(serializers.ModelSerializer):
    """A publisher and the titles of its books, through the reverse FK ``book_set``."""

    books = serializers.SlugRelatedField(
        source="book_set", many=True, read_only=True, slug_field="title"
    )

    class Meta:
        model = Publisher
        fields = ("id", "name", "books")


class AuthorProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuthorProfile
        fields = ("bio", "website")


class AuthorSummarySerializer(serializers.ModelSerializer):
    """An author inside a book: the name and the profile (``null`` when there is none)."""

    profile = AuthorProfileSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Author
        fields = ("id", "name", "profile")


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = ("id", "rating", "text")


@auto_prefetch
class BookSerializer(serializers.ModelSerializer):
    publisher = PublisherSerializer(read_only=True)
    authors = AuthorSummarySerializer(many=True, read_only=True)
    reviews = ReviewSerializer(source="review_set", many=True, read_only=True)

    class Meta:
        model = Book
        fields = ("id", "title", "published", "publisher", "authors", "reviews")


class BookSummarySerializer(serializers.ModelSerializer):
    """A book inside an author: the title and the publisher."""

    publisher = PublisherSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ("id", "title", "published", "publisher")


@auto_prefetch
class AuthorSerializer(serializers.ModelSerializer):
    profile = AuthorProfileSerializer(read_only=True, allow_null=True)
    books = BookSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Author
        fields = ("id", "name", "profile", "books")
