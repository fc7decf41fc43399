"""The ``demo`` command: plans, a comparison table, and a failing exit when something differs."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from demo.endpoints import ENDPOINTS
from demo.management.commands.demo import Comparison, Run, problems
from demo.seeding import counts
from tests.conftest import LIST_QUERIES

pytestmark = pytest.mark.django_db


def table_rows(output: str) -> dict[tuple[str, int], list[str]]:
    """``(endpoint, rows) -> cells`` for each line of the comparison table."""
    names = {endpoint.name for endpoint in ENDPOINTS}
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) == 8 and cells[0] in names:
            rows[cells[0], int(cells[1])] = cells
    return rows


@pytest.fixture
def output():
    call_command("seed", size=2, stdout=StringIO())
    out = StringIO()
    call_command("demo", size=2, runs=1, stdout=out)
    return out.getvalue()


def test_demo_prints_the_plan_of_every_endpoint(output):
    assert output.startswith("Plans\n=====\n")
    assert "books/: BookViewSet -> BookSerializer\n" in output
    assert "orders-active/: ActiveOrderViewSet -> ActiveOrderSerializer\n" in output
    assert "active_prices" in output
    assert "receipts/: OrderReceiptViewSet -> OrderReceiptSerializer\n" in output
    assert "[inferred from OrderReceiptSerializer.get_lines]" in output


def test_demo_table_has_every_endpoint_at_both_sizes(output):
    rows = table_rows(output)

    assert "endpoint" in output
    assert "same JSON" in output
    assert sorted(rows) == sorted(
        (endpoint.name, size) for endpoint in ENDPOINTS for size in (2, 20)
    )


def test_demo_table_shows_optimized_counts_and_identical_json(output):
    for (name, _size), cells in table_rows(output).items():
        naive, optimized, same = int(cells[2]), int(cells[3]), cells[7]
        assert optimized == LIST_QUERIES[name]
        assert naive > optimized
        assert same == "yes"
    assert output.rstrip().endswith("no optimized query count grows with the number of rows.")


def test_demo_rolls_back_the_larger_data_set(output):
    assert counts()["library.Book"] == 2


def test_demo_refuses_a_database_seeded_at_another_size():
    call_command("seed", size=2, stdout=StringIO())

    with pytest.raises(CommandError, match=r"run `manage.py seed --size 3` first"):
        call_command("demo", size=3, runs=1, stdout=StringIO())


def comparison(endpoint: str, rows: int, queries: int, body: bytes) -> Comparison:
    return Comparison(endpoint, rows, Run(50, 2.0, b"[]"), Run(queries, 1.0, body))


def test_problems_reports_differing_bodies_and_growing_counts():
    small = [comparison("books", 2, 4, b"[]"), comparison("rooms", 2, 4, b"[]")]
    large = [comparison("books", 20, 5, b"[]"), comparison("rooms", 20, 4, b"[1]")]

    assert problems(small, large) == [
        "rooms at 20 rows: the optimized JSON differs from the unoptimized JSON.",
        "books: the optimized view ran 4 queries for 2 rows but 5 for 20 rows.",
    ]


def test_problems_is_empty_when_all_is_well():
    small = [comparison("books", 2, 4, b"[]")]
    large = [comparison("books", 20, 4, b"[]")]

    assert problems(small, large) == []
