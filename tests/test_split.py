"""``autoprefetch_split``: a to-one relation below a to-many one loaded by a query of its
own instead of joined into the prefetch; the same data, one more query."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drf_autoprefetch import PlanError, optimize, plan_for
from drf_autoprefetch.explain import explain
from tests.testapp import serializers as shapes
from tests.testapp.models import Book


class SplitReviewersSerializer(shapes.BookReviewsSerializer):
    autoprefetch_split = ("reviews__reviewer",)


def rendered(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(serializer_class(queryset, many=True).data, sort_keys=True)
    return data, len(captured)


@pytest.mark.django_db
def test_a_split_relation_is_loaded_by_a_query_of_its_own(world):
    joined = plan_for(shapes.BookReviewsSerializer)
    split = plan_for(SplitReviewersSerializer)

    assert str(split) == (
        "testapp.Book\n"
        "  prefetch reviews (testapp.Review)\n"
        "    prefetch-one reviewer (testapp.Person) [split]\n"
        "      select address (testapp.Address)\n"
        "        select city (testapp.City)\n"
        "          select country (testapp.Country)"
    )
    assert split.query_count == joined.query_count + 1
    expected, _ = rendered(shapes.BookReviewsSerializer, list(Book.objects.all()))
    data, queries = rendered(
        SplitReviewersSerializer, optimize(Book.objects.all(), SplitReviewersSerializer)
    )
    assert data == expected
    assert queries == split.query_count


def test_explain_says_the_serializer_split_it():
    lines = explain(plan_for(SplitReviewersSerializer))

    assert lines[4] == (
        "    prefetch-one reviewer (testapp.Person) [split]: a query of its own: split from the "
        "prefetch above by the serializer's autoprefetch_split (many rows share few targets: "
        "one instance per target instead of one per row)"
    )


def test_a_path_that_is_no_join_below_a_to_many_relation_is_a_plan_error():
    class Wrong(shapes.BookReviewsSerializer):
        autoprefetch_split = ("reviews__reviewr",)

    with pytest.raises(PlanError) as excinfo:
        plan_for(Wrong)

    assert str(excinfo.value) == (
        "Wrong.autoprefetch_split names 'reviews__reviewr', which is not a single-valued "
        "relation the plan joins below a to-many one; such relations of this plan: "
        "reviews__reviewer, reviews__reviewer__address, reviews__reviewer__address__city, "
        "reviews__reviewer__address__city__country."
    )


def test_a_one_to_one_relation_always_joins():
    from rest_framework import serializers

    from tests.testapp.models import Person

    class Resident(serializers.ModelSerializer):
        passport = shapes.PassportBriefSerializer(allow_null=True)

        class Meta:
            model = Person
            fields = ["id", "passport"]

    class Authors(serializers.ModelSerializer):
        authors = Resident(many=True)
        autoprefetch_split = ("authors__passport",)

        class Meta:
            model = Book
            fields = ["id", "authors"]

    with pytest.raises(PlanError) as excinfo:
        plan_for(Authors)

    assert str(excinfo.value) == (
        "Authors.autoprefetch_split names 'authors__passport', a one-to-one or unique "
        "relation: each row has its own target, so a query of its own never pays; remove it."
    )
