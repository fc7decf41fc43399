"""Differential tests: optimized and unoptimized responses agree on random data.

Hypothesis draws the shape of a data set (how many rows at each level, which foreign
keys are null, empty and large fan-outs, many-to-many rows shared by many parents,
soft-deleted reviews and labels, unicode names that decide the default orderings,
category trees of any depth, comments on books and clubs) and the test builds it with
the ORM. Every serializer of ``tests/testapp/serializers.py`` then renders each model's
rows twice, as given and optimized, and the two JSON documents must be equal.

Each example runs in its own savepoint, rolled back at the end, so examples never see
each other's rows. The settings profile bounds the examples and derandomizes them, so a
CI run is reproducible; ``RELIABILITY_PROFILE=reliability-deep`` explores further.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from unittest import mock

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test.utils import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from drf_autoprefetch import loading, optimize
from tests.test_real_world import select_every_foreign_key
from tests.testapp import serializers as testapp_serializers
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

settings.register_profile(
    "reliability",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example rolls back its own savepoint
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile(
    "reliability-deep", settings.get_profile("reliability"), max_examples=300, derandomize=False
)
PROFILE = settings.get_profile(os.environ.get("RELIABILITY_PROFILE", "reliability"))


def _serializer_classes(namespace: Any) -> list[type[serializers.ModelSerializer]]:
    """Every model serializer defined in ``namespace``, nested classes included."""
    found: list[type[serializers.ModelSerializer]] = []
    for value in vars(namespace).values():
        if (
            isinstance(value, type)
            and issubclass(value, serializers.ModelSerializer)
            and value.__module__ == testapp_serializers.__name__
            and value not in found
        ):
            found.append(value)
            found.extend(cls for cls in _serializer_classes(value) if cls not in found)
    return found


SERIALIZERS = _serializer_classes(testapp_serializers)


# --- what hypothesis draws ---------------------------------------------------------

#: Names in any script, emoji included; no control characters (PostgreSQL refuses NUL).
names = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=0, max_size=6)


def _index(size: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=size - 1)


def _maybe(size: int) -> st.SearchStrategy[int | None]:
    """An index into ``size`` rows, or None (a null foreign key) - always None when empty."""
    return st.none() if size == 0 else st.one_of(st.none(), _index(size))


#: Usually a handful of children, sometimes many.
fan_out = st.one_of(st.integers(min_value=0, max_value=3), st.integers(min_value=15, max_value=30))


@dataclass(frozen=True)
class Spec:
    """The shape of one random data set, as indexes into lists of earlier rows."""

    countries: list[str]
    cities: list[tuple[int, str]]
    addresses: list[tuple[int, str]]
    people: list[tuple[str, int | None, int | None]]  # name, address, passport issuer
    lockers: list[int | None]
    categories: list[tuple[str, int | None]]  # name, parent (an earlier category)
    labels: list[tuple[str, bool]]  # name, deleted
    books: list[dict[str, Any]]
    clubs: list[tuple[str, list[tuple[int, str, int, int | None]]]]
    comments: list[tuple[bool, int, int, str]]  # on a book?, target, author, text
    places: list[tuple[str, int, bool, int | None, int]]  # name, city, restaurant?, chef, dishes


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    countries = draw(st.lists(names, min_size=1, max_size=3))
    cities = draw(st.lists(st.tuples(_index(len(countries)), names), max_size=4))
    addresses = draw(st.lists(st.tuples(_index(len(cities)), names), max_size=5)) if cities else []
    people = draw(
        st.lists(
            st.tuples(names, _maybe(len(addresses)), _maybe(len(countries))),
            min_size=1,
            max_size=8,
        )
    )
    lockers = draw(st.lists(_maybe(len(people)), max_size=3, unique=True))
    categories: list[tuple[str, int | None]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=7))):
        categories.append((draw(names), draw(_maybe(len(categories)))))
    labels = draw(st.lists(st.tuples(names, st.booleans()), max_size=4))
    shared_author = draw(st.booleans())
    books = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "title": names,
                    "category": _index(len(categories)),
                    "editor": _maybe(len(people)),
                    "authors": st.lists(_index(len(people)), max_size=3, unique=True),
                    "labels": st.lists(_index(len(labels)), max_size=3, unique=True)
                    if labels
                    else st.just([]),
                    "chapters": fan_out,
                    "reviews": st.lists(
                        st.tuples(
                            _index(len(people)),
                            st.integers(min_value=1, max_value=5),
                            st.booleans(),
                        ),
                        max_size=4,
                    ),
                }
            ),
            max_size=6,
        )
    )
    if shared_author:  # one person writes every book: a row shared by many parents
        for book in books:
            book["authors"] = sorted({0, *book["authors"]})
    membership = st.tuples(
        _index(len(people)), names, st.integers(min_value=0, max_value=3), _maybe(len(people))
    )
    clubs = draw(st.lists(st.tuples(names, st.lists(membership, max_size=4)), max_size=3))
    comments = draw(
        st.lists(
            st.tuples(st.booleans(), st.integers(min_value=0), _index(len(people)), names),
            max_size=5,
        )
    )
    places = (
        draw(
            st.lists(
                st.tuples(
                    names,
                    _index(len(cities)),
                    st.booleans(),
                    _maybe(len(people)),
                    st.integers(min_value=0, max_value=3),
                ),
                max_size=3,
            )
        )
        if cities
        else []
    )
    return Spec(
        countries, cities, addresses, people, lockers, categories, labels, books, clubs,
        comments, places,
    )  # fmt: skip


# --- building the rows -------------------------------------------------------------


def build(spec: Spec) -> None:
    """Create the rows ``spec`` describes. Unique columns get an index prefix."""
    countries = [
        Country.objects.create(code=f"K{i}", name=name) for i, name in enumerate(spec.countries)
    ]
    cities = [City.objects.create(name=name, country=countries[c]) for c, name in spec.cities]
    addresses = [
        Address.objects.create(street=street, city=cities[c]) for c, street in spec.addresses
    ]
    people = []
    for i, (name, address, issuer) in enumerate(spec.people):
        person = Person.objects.create(
            name=name, address=None if address is None else addresses[address]
        )
        if issuer is not None:
            Passport.objects.create(person=person, number=f"P{i}", issued_by=countries[issuer])
        people.append(person)
    for number, owner in enumerate(spec.lockers):
        Locker.objects.create(number=number, person=None if owner is None else people[owner])
    categories: list[Category] = []
    for i, (name, parent) in enumerate(spec.categories):
        parent_row = None if parent is None else categories[parent]
        categories.append(Category.objects.create(name=name, slug=f"c{i}", parent=parent_row))
    labels = [
        Label.objects.create(name=f"{i:02d} {name}", deleted=deleted)
        for i, (name, deleted) in enumerate(spec.labels)
    ]
    books = [_book(i, row, categories, people, labels) for i, row in enumerate(spec.books)]
    clubs = [_club(name, rows, people) for name, rows in spec.clubs]
    for on_book, target, author, text in spec.comments:
        targets: list[Any] = books if on_book else clubs
        if targets:
            Comment.objects.create(
                content_object=targets[target % len(targets)], author=people[author], text=text
            )
    for name, city, is_restaurant, chef, dishes in spec.places:
        _place(name, cities[city], is_restaurant, None if chef is None else people[chef], dishes)
    ContentType.objects.get_for_models(Book, Club)  # a running site has this cache warm


def _book(i: int, row: dict[str, Any], categories, people, labels) -> Book:
    editor = row["editor"]
    book = Book.objects.create(
        title=row["title"],
        isbn=f"{i}",
        category=categories[row["category"]],
        editor=None if editor is None else people[editor],
    )
    book.authors.set([people[j] for j in row["authors"]])
    book.labels.set([labels[j] for j in row["labels"]])
    Chapter.objects.bulk_create(
        Chapter(book=book, number=n, title=f"{n}") for n in range(1, row["chapters"] + 1)
    )
    for reviewer, rating, deleted in row["reviews"]:
        Review.objects.create(
            book=book, reviewer=people[reviewer], rating=rating, body="", deleted=deleted
        )
    return book


def _club(name: str, rows: list[tuple[int, str, int, int | None]], people) -> Club:
    club = Club.objects.create(name=name)
    start = datetime.date(2020, 1, 1)
    for person, role, days, invited_by in rows:
        Membership.objects.create(
            club=club,
            person=people[person],
            role=role,
            joined=start + datetime.timedelta(days=days),
            invited_by=None if invited_by is None else people[invited_by],
        )
    return club


def _place(name: str, city: City, is_restaurant: bool, chef, dishes: int) -> None:
    if not is_restaurant:
        Place.objects.create(name=name, city=city)
        return
    restaurant = Restaurant.objects.create(name=name, city=city, chef=chef)
    for d in range(dishes):
        Dish.objects.create(restaurant=restaurant, name=f"{d}", price=Decimal("1.25") * d)


# --- the property ------------------------------------------------------------------


def _render(serializer_class, rows, context) -> Any:
    data = serializer_class(rows, many=True, context=context).data
    return json.loads(JSONRenderer().render(data))


#: The querysets users hand over, as they come: the plan must merge into each.
VARIANTS = {
    "as is": lambda queryset: queryset,
    "select_related()": select_every_foreign_key,
    "only('pk')": lambda queryset: queryset.only("pk"),
    "rows in hand": list,
}


def _differences(context: dict[str, Any], variant: str) -> list[str]:
    found = []
    make = VARIANTS[variant]
    for serializer_class in SERIALIZERS:
        queryset = serializer_class.Meta.model._default_manager.all()
        # The same variant unoptimized: select_related() may order ties another way.
        unoptimized = _render(serializer_class, list(make(queryset.all())), context)
        given_rows = make(queryset.all())
        optimized = _render(
            serializer_class, optimize(given_rows, serializer_class, context=context), context
        )
        if optimized != unoptimized:
            found.append(
                f"{serializer_class.__name__} ({variant}):\n  optimized   {optimized!r}\n"
                f"  unoptimized {unoptimized!r}"
            )
    return found


def test_every_testapp_serializer_is_compared():
    assert len(SERIALIZERS) >= 50
    assert testapp_serializers.CityAddressesSerializer.AddressResidentsSerializer in SERIALIZERS


@PROFILE
@given(spec=specs(), variant=st.sampled_from(sorted(VARIANTS)))
def test_optimized_json_equals_unoptimized_json_on_random_data(
    db, spec, variant, serializer_context
):
    with transaction.atomic():
        build(spec)
        differences = _differences(serializer_context, variant)
        transaction.set_rollback(True)
    assert differences == [], "\n".join(differences)


@settings(PROFILE, max_examples=25)
@given(spec=specs(), variant=st.sampled_from(["as is", "select_related()", "only('pk')"]))
def test_loading_every_candidate_apart_changes_no_answer(db, spec, variant, serializer_context):
    """The cost model at its most eager: every to-one relation below a to-many one that
    it may load apart is loaded by a query of its own."""
    every = lambda model, relations, rows, sizes: frozenset(  # noqa: E731
        edge.path for edge in loading.candidates(relations)
    )
    with (
        mock.patch.object(loading, "choose", every),
        override_settings(DRF_AUTOPREFETCH={"SPLIT": "auto"}),
        transaction.atomic(),
    ):
        build(spec)
        differences = _differences(serializer_context, variant)
        transaction.set_rollback(True)
    assert differences == [], "\n".join(differences)
