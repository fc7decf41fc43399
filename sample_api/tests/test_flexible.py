"""``books-flexible/``: ``?fields=``, ``?omit=`` and ``?expand=`` each get the plan of
what they render, and answer what the unoptimized endpoint answers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from demo.endpoints import ENDPOINTS, fetch

pytestmark = pytest.mark.django_db

FLEXIBLE = next(endpoint for endpoint in ENDPOINTS if endpoint.name == "books-flexible")


@pytest.mark.parametrize(
    ("params", "queries"),
    [
        ({}, 3),  # COUNT, books+publisher, authors (their names)
        ({"fields": "id,title"}, 2),  # COUNT, books
        ({"expand": "publisher"}, 3),  # publisher joined
        ({"expand": "publisher,authors,reviews"}, 4),  # authors+profile, reviews
        ({"expand": "authors", "fields": "id,authors"}, 3),
        ({"expand": "publisher,reviews", "omit": "reviews,authors"}, 2),
    ],
    ids=lambda value: (
        "&".join(f"{k}={v}" for k, v in value.items()) or "plain"
        if isinstance(value, dict)
        else str(value)
    ),
)
def test_each_request_runs_the_plan_of_its_fields(seeded, params, queries):
    expected = fetch(FLEXIBLE, optimized=False, params=params)

    with CaptureQueriesContext(connection) as captured:
        body = fetch(FLEXIBLE, params=params)

    assert body == expected
    assert len(captured) == queries
