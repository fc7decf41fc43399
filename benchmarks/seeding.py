"""Deterministic data for the benchmark-only models, created in bulk.

``seed(size)`` creates ``size`` companies (each with divisions, teams and members) and
``size`` documents. The same size always gives the same rows. The sample API's own
data comes from ``demo.seeding.seed``.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction

from benchmarks.benchapp.models import City, Company, Country, Division, Document, Person, Team

__all__ = ["seed"]

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_TEXT = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "sigma tau upsilon phi chi psi omega ledger invoice margin quarter audit balance asset"
)
WORDS = tuple(_TEXT.split())
#: Characters of each document's ``body``: a large column the serializer never reads.
BODY_CHARS = 4096


def seed(size: int) -> None:
    """Create ``size`` companies with their tree and ``size`` documents."""
    if size < 1:
        raise ValueError(f"seed() needs a size of at least 1, got {size!r}.")
    rng = random.Random(size)
    with transaction.atomic():
        _seed_tree(rng, size)
        _seed_documents(rng, size)


def _seed_tree(rng: random.Random, size: int) -> None:
    countries = Country.objects.bulk_create(Country(name=f"Country {n:02d}") for n in range(20))
    cities = City.objects.bulk_create(
        City(name=f"City {n:03d}", country=countries[n % len(countries)]) for n in range(100)
    )
    people = Person.objects.bulk_create(
        Person(name=f"Person {n:05d}", city=rng.choice(cities)) for n in range(size * 3)
    )
    companies = Company.objects.bulk_create(
        Company(name=f"Company {n:05d}", country=rng.choice(countries)) for n in range(size)
    )
    divisions = Division.objects.bulk_create(
        Division(company=company, name=f"Division {k} of {company.name}", head=rng.choice(people))
        for company in companies
        for k in range(rng.randint(1, 3))
    )
    # Some divisions have no team, some teams a single member.
    teams = Team.objects.bulk_create(
        Team(division=division, name=f"Team {k} of {division.name}", lead=rng.choice(people))
        for division in divisions
        for k in range(rng.randint(0, 2))
    )
    Membership = Team.members.through
    Membership.objects.bulk_create(
        Membership(team=team, person=person)
        for team in teams
        for person in rng.sample(people, min(rng.randint(1, 4), len(people)))
    )


def _seed_documents(rng: random.Random, size: int) -> None:
    Document.objects.bulk_create(
        (_document(rng, n) for n in range(size)),
        batch_size=500,
    )


def _document(rng: random.Random, n: int) -> Document:
    body = " ".join(rng.choices(WORDS, k=BODY_CHARS // 5))[:BODY_CHARS]
    return Document(
        title=f"Document {n:05d}",
        code=f"D-{n:05d}",
        status=rng.choice(("draft", "review", "final")),
        kind=rng.choice(("memo", "report", "contract")),
        priority=rng.randint(1, 5),
        score=rng.random(),
        amount=Decimal(rng.randint(0, 10**8)) / 100,
        created=EPOCH + dt.timedelta(minutes=n),
        updated=EPOCH + dt.timedelta(minutes=n, seconds=rng.randint(0, 10**6)),
        owner_name=f"Owner {n % 97:02d}",
        owner_email=f"owner{n % 97}@example.com",
        region=rng.choice(("north", "south", "east", "west")),
        language=rng.choice(("en", "fr", "de")),
        version=rng.randint(1, 20),
        checksum=f"{rng.getrandbits(256):064x}",
        flags=rng.getrandbits(16),
        archived=n % 9 == 0,
        summary=" ".join(rng.choices(WORDS, k=40))[:500],
        body=body,
    )
