"""Deterministic data for the shape tests.

``build_world(size)`` makes the same shape of data at any size: ``size`` scales the
number of rows at every level while the shape (which relations are null, empty,
shared or soft-deleted, how deep the category tree goes) stays the same. Names are
chosen so that every ``Meta.ordering`` differs from insertion order, and every
soft-deleted row carries the marker ``DELETED`` in a rendered column, so a test can
check it never leaks into a response.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from model_bakery import baker

from tests.testapp.models import (
    Address,
    Book,
    Category,
    Chapter,
    City,
    Club,
    Comment,
    Country,
    Dish,
    Label,
    Locker,
    Membership,
    Passport,
    Person,
    Place,
    Restaurant,
    Review,
)

DELETED = "(deleted)"

#: Depth of the category tree below each root: root -> child -> grandchild -> great-grandchild.
CATEGORY_TREE_HEIGHT = 3


@dataclass
class World:
    size: int
    countries: list[Country] = field(default_factory=list)
    cities: list[City] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    books: list[Book] = field(default_factory=list)
    clubs: list[Club] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    restaurants: list[Restaurant] = field(default_factory=list)


class _Builder:
    def __init__(self, size: int, using: str) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size!r}")
        self.using = using
        self.world = World(size=size)

    def make(self, model, **fields):
        return baker.make(model, _using=self.using, **fields)

    def build(self) -> World:
        self.geography()
        self.people()
        self.categories()
        self.books()
        self.clubs()
        self.comments()
        self.places()
        # Warm the content type cache, as any running site has it warm.
        ContentType.objects.db_manager(self.using).get_for_models(Book, Club)
        return self.world

    def geography(self) -> None:
        w = self.world
        # The last country has no cities.
        w.countries = [
            self.make(Country, code=f"C{i:02d}", name=f"Country {w.size - i:02d}")
            for i in range(w.size + 1)
        ]
        for i, country in enumerate(w.countries[: w.size]):
            for suffix in "ba":
                w.cities.append(self.make(City, name=f"City {i:02d}{suffix}", country=country))
        # Every second city has no addresses.
        for k, city in enumerate(w.cities[::2]):
            for j in range(2):
                w.addresses.append(self.make(Address, street=f"{9 - j} Street {k}", city=city))

    def people(self) -> None:
        w = self.world
        count = 4 * w.size
        for j in range(count):
            # Every fourth person has no address.
            address = None if j % 4 == 3 else w.addresses[j % len(w.addresses)]
            w.people.append(self.make(Person, name=f"Person {count - j:03d}", address=address))
        for j, person in enumerate(w.people):
            # Every third person has no passport; the empty country issues some.
            if j % 3 != 2:
                self.make(
                    Passport,
                    person=person,
                    number=f"P{j:04d}",
                    issued_by=w.countries[j % len(w.countries)],
                )
        for k in range(w.size + 1):
            # The last locker belongs to nobody; most people have no locker.
            person = w.people[2 * k] if k < w.size else None
            self.make(Locker, number=100 + k, person=person)

    def categories(self) -> None:
        w = self.world
        for i in range(w.size):
            root = self.make(Category, name=f"Root {w.size - i}", slug=f"root-{i}", parent=None)
            first = self.make(Category, name=f"Sub {i} b", slug=f"sub-{i}-b", parent=root)
            second = self.make(Category, name=f"Sub {i} a", slug=f"sub-{i}-a", parent=root)
            grand = self.make(Category, name=f"Leaf {i}", slug=f"leaf-{i}", parent=first)
            great = self.make(Category, name=f"Deep {i}", slug=f"deep-{i}", parent=grand)
            w.categories += [root, first, second, grand, great]

    def books(self) -> None:
        w = self.world
        people = w.people
        w.labels = [
            self.make(Label, name="new", deleted=False),
            self.make(Label, name="classic", deleted=False),
            self.make(Label, name=f"retired {DELETED}", deleted=True),
        ]
        new, classic, retired = w.labels
        count = 2 * w.size
        for j in range(count):
            book = self.make(
                Book,
                title=f"Book {count - j:03d}",
                isbn=f"978-{j:06d}",
                category=w.categories[j % len(w.categories)],
                editor=None if j % 3 == 0 else people[j % len(people)],
            )
            w.books.append(book)
            # The first person writes almost every book (a shared M2M row);
            # every fourth book has no authors at all.
            if j % 4 != 3:
                authors = [people[0]] + ([people[(j + 1) % len(people)]] if j % 2 == 0 else [])
                book.authors.set(authors)
            book.labels.set(
                [label for label, on in ((classic, j % 2 == 0), (new, j % 3 == 0)) if on]
                + ([retired] if j % 2 else [])
            )
            for number in range(1, j % 3 + 1):
                self.make(Chapter, book=book, number=number, title=f"Chapter {number}")
            self.reviews(book, j)

    def reviews(self, book: Book, j: int) -> None:
        people = self.world.people
        # A soft-deleted review with the best rating, so it would sort first if shown.
        self.make(
            Review,
            book=book,
            reviewer=people[j % len(people)],
            rating=5,
            body=f"Review {j} {DELETED}",
            deleted=True,
        )
        if j % 3 == 2:
            return  # only a soft-deleted review: looks empty from the outside
        for k in range(2):
            # Equal ratings: the order falls back to the reviewer's name.
            self.make(
                Review,
                book=book,
                reviewer=people[(j + k + 1) % len(people)],
                rating=4,
                body=f"Review {j}.{k}",
                deleted=False,
            )

    def clubs(self) -> None:
        w = self.world
        people = w.people
        start = datetime.date(2020, 1, 1)
        # The last club has no members.
        w.clubs = [self.make(Club, name=f"Club {w.size - i}") for i in range(w.size + 1)]
        for i, club in enumerate(w.clubs[: w.size]):
            founder = people[i]
            for k in range(3):
                self.make(
                    Membership,
                    person=people[(i + k) % len(people)],
                    club=club,
                    role="founder" if k == 0 else "member",
                    joined=start + datetime.timedelta(days=min(k, 1)),
                    invited_by=None if k == 0 else founder,
                )

    def comments(self) -> None:
        w = self.world
        people = w.people
        for j, book in enumerate(w.books[::2]):
            for k in range(j % 2 + 1):
                self.comment(book, people[(j + k) % len(people)], f"On book {j}, #{k}")
        for i, club in enumerate(w.clubs):
            self.comment(club, people[i], f"On club {i}")

    def comment(self, target, author: Person, text: str) -> Comment:
        # The content type comes from the same database as the rows.
        content_type = ContentType.objects.db_manager(self.using).get_for_model(target)
        return self.make(
            Comment,
            content_type=content_type,
            object_id=target.pk,
            author=author,
            text=text,
        )

    def places(self) -> None:
        w = self.world
        people = w.people
        for k in range(w.size):
            city = w.cities[k % len(w.cities)]
            w.places.append(self.make(Place, name=f"Square {w.size - k}", city=city))
            restaurant = self.make(
                Restaurant,
                name=f"Diner {w.size - k}",
                city=w.cities[(k + 1) % len(w.cities)],
                serves_pizza=k % 2 == 0,
                chef=None if k % 2 else people[k],
            )
            w.restaurants.append(restaurant)
            # The first restaurant has no dishes.
            for d in range(k % 3):
                self.make(
                    Dish,
                    restaurant=restaurant,
                    name=f"Dish {2 - d}",
                    price=Decimal("9.50") + d,
                )


def build_world(size: int = 2, *, using: str = "default") -> World:
    """Create a world of ``size`` on the database ``using`` and return its rows."""
    return _Builder(size, using).build()
