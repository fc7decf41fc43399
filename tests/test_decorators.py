"""``@auto_prefetch``: a serializer that optimizes the QuerySet it is given."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from drf_autoprefetch import PlanError, auto_prefetch
from drf_autoprefetch import decorators as decorators_module
from tests.testapp import serializers as shapes
from tests.testapp.models import Book


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    monkeypatch.setattr(decorators_module, "_registry", [])
    monkeypatch.setattr(decorators_module, "_pending", [])


def decorated(base, **options):
    """A decorated subclass of ``base``, so the shared test serializers stay untouched."""
    subclass = type(f"Auto{base.__name__}", (base,), {"__module__": __name__})
    return auto_prefetch(**options)(subclass) if options else auto_prefetch(subclass)


def render(serializer):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(serializer.data, sort_keys=True, default=str)
    return len(captured), data


@pytest.mark.django_db
def test_bare_decorator_optimizes_a_queryset_given_with_many_true(world):
    serializer_class = decorated(shapes.BookReviewsSerializer)

    count, data = render(serializer_class(Book.objects.all(), many=True))

    assert count == 2
    assert data == render(shapes.BookReviewsSerializer(Book.objects.all(), many=True))[1]


@pytest.mark.django_db
def test_decorator_with_options_optimizes_a_manager_given_as_instance(world):
    serializer_class = decorated(shapes.BookReviewsSerializer, validate=False)

    count, _ = render(serializer_class(instance=Book.objects, many=True))

    assert count == 2


@pytest.mark.django_db
def test_evaluated_querysets_and_lists_are_left_as_they_are(world):
    serializer_class = decorated(shapes.BookReviewsSerializer)
    queryset = Book.objects.all()
    list(queryset)
    books = list(Book.objects.all())

    evaluated = serializer_class(queryset, many=True)
    listed = serializer_class(books, many=True)

    assert evaluated.instance is queryset
    assert listed.instance is books
    plain = shapes.BookReviewsSerializer(list(Book.objects.all()), many=True)
    assert render(listed)[0] == render(plain)[0] > 2


def test_decorator_registers_the_serializer():
    serializer_class = decorated(shapes.BookReviewsSerializer)

    assert decorators_module.registered_serializers() == (serializer_class,)


class WrongSourceSerializer(serializers.ModelSerializer):
    shelf = serializers.CharField(source="shelf_name")

    class Meta:
        model = Book
        fields = ["id", "shelf"]


def test_a_bad_source_fails_when_the_class_is_decorated():
    with pytest.raises(PlanError) as excinfo:
        decorated(WrongSourceSerializer)

    assert str(excinfo.value).startswith(
        "AutoWrongSourceSerializer.shelf: source 'shelf_name' names nothing on testapp.Book."
    )


def test_validate_false_defers_planning_to_first_use():
    serializer_class = decorated(WrongSourceSerializer, validate=False)

    assert decorators_module.registered_serializers() == (serializer_class,)


class RequestOnlySerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title"]

    def get_fields(self):
        self.context["request"]
        return super().get_fields()


def test_a_serializer_needing_a_request_is_planned_on_first_use_instead():
    serializer_class = decorated(RequestOnlySerializer)

    assert decorators_module.registered_serializers() == (serializer_class,)
    assert decorators_module._pending == []
