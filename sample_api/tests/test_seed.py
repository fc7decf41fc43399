"""The ``seed`` command and ``demo.seeding``: deterministic data with every edge case."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from demo.endpoints import ENDPOINTS, fetch
from demo.seeding import counts, reset, seed
from tests.conftest import SIZE

pytestmark = pytest.mark.django_db


def without_ids(value):
    """The JSON value with every ``id`` removed: ids differ between runs, nothing else may."""
    if isinstance(value, dict):
        return {key: without_ids(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list):
        return [without_ids(item) for item in value]
    return value


def snapshot(size: int) -> dict:
    pages = {
        endpoint.name: without_ids(json.loads(fetch(endpoint, params={"page_size": size})))
        for endpoint in ENDPOINTS
    }
    return {"counts": counts(), "pages": pages}


def results(name: str) -> list[dict]:
    endpoint = next(endpoint for endpoint in ENDPOINTS if endpoint.name == name)
    return json.loads(fetch(endpoint, params={"page_size": 1000}))["results"]


def test_seed_command_gives_the_same_data_every_run():
    call_command("seed", size=SIZE, stdout=StringIO())
    first = snapshot(SIZE)
    call_command("seed", size=SIZE, stdout=StringIO())

    assert snapshot(SIZE) == first


def test_seed_command_replaces_existing_data():
    call_command("seed", size=SIZE, stdout=StringIO())
    out = StringIO()
    call_command("seed", size=2, stdout=out)

    assert counts()["library.Book"] == 2
    assert "2 library.Book" in out.getvalue()


def test_seed_command_rejects_an_empty_size():
    with pytest.raises(CommandError, match="--size must be at least 1"):
        call_command("seed", size=0)


def test_seed_from_start_adds_rows_on_top():
    seed(SIZE)
    seed(2 * SIZE, start=SIZE)

    assert counts()["library.Book"] == counts()["tickets.Order"] == 3 * SIZE
    titles = [book["title"] for book in results("books")]
    assert len(set(titles)) == 3 * SIZE


def test_reset_deletes_every_sample_row():
    seed(SIZE)
    reset()

    assert set(counts().values()) == {0}


def test_seed_data_has_an_empty_child_list_on_every_endpoint():
    seed(SIZE)

    assert any(book["reviews"] == [] for book in results("books"))
    assert any(author["profile"] is None for author in results("authors"))
    assert any(author["books"] == [] for author in results("authors"))
    assert any(publisher["books"] == [] for publisher in results("publishers"))
    assert any(order["items"] == [] for order in results("orders"))
    assert any(order["active_prices"] == [] for order in results("orders-active"))
    assert any(room["messages"] == [] for room in results("rooms"))


def test_seed_data_has_prices_active_today_and_not():
    seed(SIZE)

    every = sum(len(order["items"]) for order in results("orders"))
    active = sum(len(order["active_prices"]) for order in results("orders-active"))
    assert 0 < active < every
