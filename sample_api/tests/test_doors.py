"""The sample API uses every door of the library: the test helper, the command, the checks."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command

from chat.models import ChatRoom
from chat.serializers import ChatRoomSerializer
from drf_autoprefetch.testing import assert_optimized
from library.models import Author, Book
from library.serializers import AuthorSerializer, BookSerializer
from tickets.models import Order
from tickets.serializers import ActiveOrderSerializer, OrderSerializer

CASES = [
    pytest.param(Book, BookSerializer, 3, id="books"),
    pytest.param(Author, AuthorSerializer, 2, id="authors"),
    pytest.param(Order, OrderSerializer, 2, id="orders"),
    pytest.param(Order, ActiveOrderSerializer, 2, id="orders-active"),
    pytest.param(ChatRoom, ChatRoomSerializer, 3, id="rooms"),
]


@pytest.mark.parametrize(("model", "serializer_class", "queries"), CASES)
def test_every_list_serializer_passes_the_testing_helper(seeded, model, serializer_class, queries):
    assert assert_optimized(serializer_class, model.objects.all()) == queries


def test_prefetch_plans_check_passes_for_every_view():
    out = StringIO()

    call_command("prefetch_plans", "--check", "--format", "json", stdout=out)

    entries = json.loads(out.getvalue())
    assert {entry["target"] for entry in entries} >= {
        "library.views.BookViewSet",
        "tickets.views.OrderViewSet",
        "chat.views.ChatRoomViewSet",
    }
    assert all(entry["plan"]["warnings"] == [] for entry in entries)


def test_system_checks_report_nothing():
    assert checks.run_checks(tags=["drf_autoprefetch"]) == []
