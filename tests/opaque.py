"""A serializer whose method the planner cannot see through, even reading its source."""

from __future__ import annotations

from rest_framework import serializers

from tests.testapp.models import Book, Review


class BookQueryingSerializer(serializers.ModelSerializer):
    good_reviews = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "good_reviews"]

    def get_good_reviews(self, book):
        return Review.objects.filter(book=book, rating__gte=4).count()
