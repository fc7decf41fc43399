"""Deterministic sample data, created in bulk with model-bakery.

``seed(size)`` creates ``size`` rows for the root model of every list endpoint (books,
authors, publishers, orders, chat rooms) numbered from ``start``, with several children
each. The same ``size`` and ``start`` always give the same data, relative to the day it
runs on (prices are "active today" or not). Every endpoint gets at least one empty child
list or missing relation: a book without reviews, an author without a profile or books,
a publisher without books, an order without items, a room without messages.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone
from model_bakery import baker

from chat.models import ChatRoom, Message
from library.models import Author, AuthorProfile, Book, Publisher, Review
from tickets.models import Customer, Order, Price, Program

__all__ = ["counts", "reset", "seed"]

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _models() -> tuple[type[models.Model], ...]:
    return (
        Publisher,
        Author,
        AuthorProfile,
        Book,
        Review,
        Program,
        Price,
        Customer,
        Order,
        get_user_model(),
        ChatRoom,
        Message,
    )


def counts() -> dict[str, int]:
    """Rows per sample model, by model label (``"library.Book": 20``)."""
    return {model._meta.label: model.objects.count() for model in _models()}


def reset() -> None:
    """Delete the sample data (users who are staff or superusers are kept)."""
    for model in (Message, ChatRoom, Order, Price, Program, Customer):
        model.objects.all().delete()
    for model in (Review, AuthorProfile, Book, Author, Publisher):
        model.objects.all().delete()
    get_user_model().objects.filter(is_staff=False, is_superuser=False).delete()


def seed(size: int, *, start: int = 0) -> None:
    """Create ``size`` rows per list endpoint, numbered ``start`` to ``start + size - 1``."""
    if size < 1:
        raise ValueError(f"seed() needs a size of at least 1, got {size!r}.")
    rng = random.Random(start)
    numbers = range(start, start + size)
    with transaction.atomic():
        _seed_library(rng, numbers)
        _seed_tickets(rng, numbers, timezone.localdate())
        _seed_chat(rng, numbers)


def _make(model: type[M], count: int, **values: Iterable[Any]) -> list[M]:
    """Bulk-create ``count`` rows, each field taking the next value of its iterable."""
    if count == 0:
        return []
    columns = {name: iter(column) for name, column in values.items()}
    return baker.make(model, _quantity=count, _bulk_create=True, **columns)


def _link(through: type[M], pairs: Sequence[tuple[Any, Any]], left: str, right: str) -> None:
    """Bulk-create the rows of a many-to-many table from ``(left, right)`` pairs."""
    _make(through, len(pairs), **{left: [a for a, _ in pairs], right: [b for _, b in pairs]})


def _children(
    parents: Sequence[T],
    numbers: range,
    count: Callable[[int], int],
) -> list[tuple[T, int, int]]:
    """``(parent, number, k)`` for each child: ``count(number)`` children per parent."""
    pairs = zip(parents, numbers, strict=True)
    return [(parent, n, k) for parent, n in pairs for k in range(count(n))]


def _seed_library(rng: random.Random, numbers: range) -> None:
    size = len(numbers)
    publishers = _make(Publisher, size, name=(f"Publisher {n:04d}" for n in numbers))
    authors = _make(Author, size, name=(f"Author {n:04d}" for n in numbers))
    with_profile = [(a, n) for a, n in zip(authors, numbers, strict=True) if n % 7 != 1]
    _make(
        AuthorProfile,
        len(with_profile),
        author=(a for a, _ in with_profile),
        bio=(f"Author {n:04d} writes about topic {n % 11}." for _, n in with_profile),
        website=(f"https://example.com/authors/{n}" for _, n in with_profile),
    )
    # Some publishers publish nothing and some authors write nothing.
    busy_publishers = [p for p, n in zip(publishers, numbers, strict=True) if n % 4 != 2]
    busy_authors = [a for a, n in zip(authors, numbers, strict=True) if n % 9 != 4]
    busy_publishers = busy_publishers or publishers
    busy_authors = busy_authors or authors
    books = _make(
        Book,
        size,
        title=(f"Book {n:04d}" for n in numbers),
        published=[dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000)) for _ in numbers],
        publisher=[rng.choice(busy_publishers) for _ in numbers],
    )
    pairs = [
        (book, author)
        for book in books
        for author in rng.sample(busy_authors, min(rng.randint(2, 3), len(busy_authors)))
    ]
    _link(Book.authors.through, pairs, "book", "author")
    reviews = _children(books, numbers, lambda n: 0 if n % 5 == 0 else rng.randint(0, 3))
    _make(
        Review,
        len(reviews),
        book=(book for book, _, _ in reviews),
        rating=[rng.randint(1, 5) for _ in reviews],
        text=(f"Review {k + 1} of {book.title}." for book, _, k in reviews),
    )


def _price_periods(rng: random.Random, n: int, today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """A past, a current and a future period; some current ones start or end today."""
    past_end = today - dt.timedelta(days=rng.randint(1, 60))
    current_start = today if n % 3 == 0 else today - dt.timedelta(days=rng.randint(1, 30))
    current_end = today if n % 3 == 1 else today + dt.timedelta(days=rng.randint(1, 30))
    future_start = current_end + dt.timedelta(days=1)
    return [
        (past_end - dt.timedelta(days=90), past_end),
        (current_start, current_end),
        (future_start, future_start + dt.timedelta(days=rng.randint(30, 90))),
    ]


def _seed_tickets(rng: random.Random, numbers: range, today: dt.date) -> None:
    size = len(numbers)
    programs = _make(Program, size, name=(f"Program {n:04d}" for n in numbers))
    periods = [
        (program, period)
        for program, n in zip(programs, numbers, strict=True)
        for period in _price_periods(rng, n, today)
    ]
    prices = _make(
        Price,
        len(periods),
        program=(program for program, _ in periods),
        from_date=(start for _, (start, _) in periods),
        to_date=(end for _, (_, end) in periods),
        amount=[Decimal(rng.randint(500, 20_000)) / 100 for _ in periods],
    )
    customers = _make(
        Customer,
        size,
        name=(f"Customer {n:04d}" for n in numbers),
        email=(f"customer{n}@example.com" for n in numbers),
    )
    states = list(Order.State)
    empty = {n for n in numbers if n % 7 == 3}
    orders = _make(
        Order,
        size,
        state=(Order.State.DRAFT if n in empty else rng.choice(states) for n in numbers),
        customer=[rng.choice(customers) for _ in numbers],
    )
    pairs = [
        (order, price)
        for order, n in zip(orders, numbers, strict=True)
        if n not in empty
        for price in rng.sample(prices, min(rng.randint(1, 4), len(prices)))
    ]
    _link(Order.items.through, pairs, "order", "price")


def _seed_chat(rng: random.Random, numbers: range) -> None:
    size = len(numbers)
    users = _make(
        get_user_model(),
        size,
        username=(f"member{n:04d}" for n in numbers),
        email=(f"member{n}@example.com" for n in numbers),
        password=("!" for _ in numbers),  # an unusable password
        date_joined=(EPOCH for _ in numbers),
    )
    rooms = _make(
        ChatRoom,
        size,
        name=(f"Room {n:04d}" for n in numbers),
        owner=[rng.choice(users) for _ in numbers],
    )
    members = {room.pk: rng.sample(users, min(rng.randint(2, 4), len(users))) for room in rooms}
    pairs = [(room, user) for room in rooms for user in members[room.pk]]
    _link(ChatRoom.participants.through, pairs, "chatroom", "user")
    messages = _children(rooms, numbers, lambda n: 0 if n % 6 == 4 else rng.randint(0, 5))
    _make(
        Message,
        len(messages),
        room=(room for room, _, _ in messages),
        author=[rng.choice(members[room.pk]) for room, _, _ in messages],
        text=(f"Message {k + 1} in {room.name}." for room, _, k in messages),
        created_at=(EPOCH + dt.timedelta(hours=n, minutes=k) for _, n, k in messages),
    )
