"""The list endpoints under test and the plan a careful developer would write for each.

Every hand-written plan follows the rule the library implements: one query for the root
rows joined to every single-valued relation above the first to-many relation, and one
query per to-many relation, joined to the single-valued relations below it. For the wide
table the careful developer also loads only the three columns the serializer reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, Prefetch, QuerySet
from rest_framework import serializers

from benchmarks.benchapp.models import Company, Division, Document, Person, Team
from benchmarks.benchapp.serializers import CompanySerializer, DocumentSerializer
from chat.models import ChatRoom, Message
from chat.serializers import ChatRoomSerializer
from library.models import Author, Book
from library.serializers import AuthorSerializer, BookSerializer
from tickets.models import Order, Price
from tickets.serializers import OrderSerializer

__all__ = ["SCENARIOS", "Scenario"]


@dataclass(frozen=True)
class Scenario:
    """One list endpoint: its serializer and the hand-written queryset for it."""

    name: str
    description: str
    serializer: type[serializers.ModelSerializer]
    hand: Callable[[], QuerySet[Any]]

    @property
    def model(self) -> type[Model]:
        return self.serializer.Meta.model


def _orders() -> QuerySet[Any]:
    return Order.objects.select_related("customer").prefetch_related(
        Prefetch("items", queryset=Price.objects.select_related("program"))
    )


def _books() -> QuerySet[Any]:
    return Book.objects.select_related("publisher").prefetch_related(
        Prefetch("authors", queryset=Author.objects.select_related("profile")),
        "review_set",
    )


def _authors() -> QuerySet[Any]:
    return Author.objects.select_related("profile").prefetch_related(
        Prefetch("books", queryset=Book.objects.select_related("publisher"))
    )


def _rooms() -> QuerySet[Any]:
    return ChatRoom.objects.select_related("owner").prefetch_related(
        Prefetch("participants", queryset=get_user_model().objects.all()),
        Prefetch("messages", queryset=Message.objects.select_related("author")),
    )


def _companies() -> QuerySet[Any]:
    members = Prefetch("members", queryset=Person.objects.select_related("city"))
    teams = Prefetch(
        "teams", queryset=Team.objects.select_related("lead__city").prefetch_related(members)
    )
    divisions = Prefetch(
        "divisions",
        queryset=Division.objects.select_related("head__city").prefetch_related(teams),
    )
    return Company.objects.select_related("country").prefetch_related(divisions)


def _documents() -> QuerySet[Any]:
    return Document.objects.only("id", "title", "status")


SCENARIOS = (
    Scenario(
        "orders",
        "orders with customer, items (many-to-many prices) and each item's program",
        OrderSerializer,
        _orders,
    ),
    Scenario(
        "books",
        "books with publisher, authors with profile (reverse one-to-one) and reviews",
        BookSerializer,
        _books,
    ),
    Scenario(
        "authors", "authors with profile and books with publisher", AuthorSerializer, _authors
    ),
    Scenario(
        "rooms",
        "chat rooms with owner, participants and messages with author",
        ChatRoomSerializer,
        _rooms,
    ),
    Scenario(
        "deep",
        "companies > divisions > teams > members > city: four levels, to-one and to-many mixed",
        CompanySerializer,
        _companies,
    ),
    Scenario(
        "wide",
        "a 20-column table with a 4 KB text column; the serializer reads 3 columns",
        DocumentSerializer,
        _documents,
    ),
)
