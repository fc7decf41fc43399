"""Every endpoint runs a fixed number of queries and answers exactly what it would unoptimized."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from demo.endpoints import ENDPOINTS, Endpoint, fetch
from demo.seeding import seed
from drf_autoprefetch import plan_for
from tests.conftest import LIST_QUERIES, SIZE

pytestmark = pytest.mark.django_db

endpoints = pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)


def page(size: int) -> dict[str, int]:
    return {"page_size": size}


def count_queries(endpoint: Endpoint, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        fetch(endpoint, **kwargs)
    return len(captured.captured_queries)


@endpoints
def test_list_runs_one_query_per_relation_level(endpoint, seeded, django_assert_num_queries):
    with django_assert_num_queries(LIST_QUERIES[endpoint.name]):
        body = fetch(endpoint, params=page(SIZE))

    assert len(json.loads(body)["results"]) == SIZE


@endpoints
def test_retrieve_runs_one_query_per_relation_level(endpoint, seeded, django_assert_num_queries):
    for pk in endpoint.model.objects.values_list("pk", flat=True):
        with django_assert_num_queries(LIST_QUERIES[endpoint.name] - 1):
            fetch(endpoint, pk=pk)


@endpoints
def test_optimized_list_equals_unoptimized_list(endpoint, seeded):
    optimized = fetch(endpoint, params=page(SIZE))
    unoptimized = fetch(endpoint, optimized=False, params=page(SIZE))

    assert optimized == unoptimized


@endpoints
def test_optimized_retrieve_equals_unoptimized_retrieve(endpoint, seeded):
    for pk in endpoint.model.objects.values_list("pk", flat=True):
        assert fetch(endpoint, pk=pk) == fetch(endpoint, optimized=False, pk=pk)


@endpoints
def test_optimized_query_count_does_not_grow_with_rows(endpoint, seeded):
    small = count_queries(endpoint, params=page(SIZE))
    seed(3 * SIZE, start=SIZE)
    large = count_queries(endpoint, params=page(4 * SIZE))

    assert small == large == LIST_QUERIES[endpoint.name]


@endpoints
def test_unoptimized_view_runs_queries_per_row(endpoint, seeded):
    optimized = count_queries(endpoint, params=page(SIZE))
    unoptimized = count_queries(endpoint, optimized=False, params=page(SIZE))

    # COUNT and the root rows, then at least one query per row.
    assert unoptimized >= 2 + SIZE > optimized


@endpoints
def test_endpoint_plan_has_no_warnings(endpoint):
    assert plan_for(endpoint.serializer_class).warnings == ()


@endpoints
def test_strict_mode_finds_no_unplanned_query(endpoint, seeded, settings):
    settings.DRF_AUTOPREFETCH = {"STRICT": True}
    fetch(endpoint, params=page(SIZE))
    fetch(endpoint, pk=endpoint.model.objects.values_list("pk", flat=True).first())


def test_router_serves_every_endpoint(seeded):
    client = APIClient()
    root = client.get("/", HTTP_ACCEPT="application/json").json()

    assert sorted(root) == sorted(endpoint.name for endpoint in ENDPOINTS)
    for endpoint in ENDPOINTS:
        response = client.get(f"/{endpoint.name}/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response.json()["count"] == SIZE


def test_browsable_api_renders(seeded):
    response = APIClient().get("/books/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Book 0000" in response.content
