"""drf-dynamic-fields' ``?fields=`` and ``?omit=``: each request gets the plan of the
fields it renders, whichever request came first."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_dynamic_fields import DynamicFieldsMixin
from rest_framework import serializers, viewsets
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin
from tests.testapp.models import Book
from tests.testapp.serializers import CategoryLeafSerializer as CategorySerializer
from tests.testapp.serializers import PersonBriefSerializer as PersonSerializer

pytestmark = pytest.mark.django_db


class BookSerializer(DynamicFieldsMixin, serializers.ModelSerializer):
    category = CategorySerializer()
    authors = PersonSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category", "authors"]


class BookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookSerializer


class PlainBookViewSet(BookViewSet):
    autoprefetch = False


def listed(view_class, query):
    return view_class.as_view({"get": "list"})(APIRequestFactory().get(f"/books/?{query}"))


@pytest.mark.parametrize(
    ("queries", "expected"),
    [
        (["fields=id,title", ""], [1, 2]),
        (["", "fields=id,title"], [2, 1]),
        (["omit=authors", "fields=id,authors", "fields="], [1, 2, 1]),
    ],
)
def test_each_request_gets_its_own_plan(make_world, queries, expected):
    make_world(3)
    counts = []
    for query in queries:
        plain = json.dumps(listed(PlainBookViewSet, query).data, sort_keys=True)
        with CaptureQueriesContext(connection) as captured:
            response = listed(BookViewSet, query)
        assert json.dumps(response.data, sort_keys=True) == plain
        counts.append(len(captured))

    assert counts == expected


class StaffExtrasSerializer(DynamicFieldsMixin, serializers.ModelSerializer):
    """Its own get_fields reads the request too: the mixin's options do not say all it
    renders, so it is planned from an instance built for each request."""

    class Meta:
        model = Book
        fields = ["id", "title"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.query_params.get("full"):
            fields["authors"] = PersonSerializer(many=True)
        return fields


class StaffExtrasViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.all()
    serializer_class = StaffExtrasSerializer


def test_own_field_code_beside_the_mixin_is_planned_per_request(make_world):
    make_world(3)
    plain = type("Plain", (StaffExtrasViewSet,), {"autoprefetch": False})
    counts = []
    for query in ("", "full=1", ""):
        expected = json.dumps(listed(plain, query).data, sort_keys=True)
        with CaptureQueriesContext(connection) as captured:
            response = listed(StaffExtrasViewSet, query)
        assert json.dumps(response.data, sort_keys=True) == expected
        counts.append(len(captured))

    assert counts == [1, 2, 1]
