"""Serializers of the library endpoints, nested the way a front end wants them.

The top-level ones are ``@auto_prefetch``: ``BookSerializer(Book.objects..., many=True)``
optimizes the QuerySet itself in a function view or an ``APIView``.
"""

from rest_framework import serializers

from drf_autoprefetch import auto_prefetch
from drf_autoprefetch.selection import Selection
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


def _listed(params, name):
    """A comma-separated query parameter as a list (``?expand=a,b``)."""
    return [part for part in params.get(name, "").split(",") if part]


class FlexibleBookSerializer(serializers.ModelSerializer):
    """A book as ``?fields=``, ``?omit=`` and ``?expand=`` ask, as drf-flex-fields does:
    ``publisher`` and ``authors`` are names unless expanded into nested objects, and
    ``reviews`` appear only when expanded.

    ``autoprefetch_selection`` tells the planner what a request renders, so each
    combination gets the plan of its own fields without building a serializer per request.
    """

    expandable_fields = {
        "publisher": (PublisherSerializer, {"read_only": True}),
        "authors": (AuthorSummarySerializer, {"many": True, "read_only": True}),
        "reviews": (ReviewSerializer, {"source": "review_set", "many": True, "read_only": True}),
    }

    publisher = serializers.SlugRelatedField(read_only=True, slug_field="name")
    authors = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Book
        fields = ("id", "title", "published", "publisher", "authors")

    def __init__(self, *args, expand=(), **kwargs):
        super().__init__(*args, **kwargs)
        params = self._params(self.context)
        for name in (*expand, *_listed(params, "expand")):
            if name in self.expandable_fields:
                serializer_class, options = self.expandable_fields[name]
                self.fields[name] = serializer_class(**options)
        chosen, omitted = _listed(params, "fields"), _listed(params, "omit")
        for name in list(self.fields):
            if (chosen and name not in chosen) or name in omitted:
                self.fields.pop(name)

    @staticmethod
    def _params(context):
        request = context.get("request")
        return request.query_params if request is not None else {}

    @classmethod
    def autoprefetch_selection(cls, kwargs, context):
        params = cls._params(context)
        expand = [*kwargs.get("expand", ()), *_listed(params, "expand")]
        return Selection(
            fields=_listed(params, "fields") or None,
            omit=_listed(params, "omit"),
            build={"expand": [name for name in expand if name in cls.expandable_fields]},
        )
