import pytest

from demo.seeding import seed

# Big enough for every kind of empty child list the seed data promises.
SIZE = 6

# Queries of one list page: the paginator's COUNT, the root rows joined to every
# single-valued relation, then one query per to-many relation (each joined to the
# single-valued relations below it). A detail view runs the same minus the COUNT.
LIST_QUERIES = {
    "books": 4,  # COUNT, book+publisher, authors+profile, review_set
    "books-flexible": 3,  # COUNT, book+publisher, authors (names: nothing expanded)
    "authors": 3,  # COUNT, author+profile, books+publisher
    "publishers": 3,  # COUNT, publisher, book_set
    "orders": 3,  # COUNT, order+customer, items+program
    "orders-active": 3,  # COUNT, order+customer, active prices+program
    "receipts": 3,  # COUNT, order+customer, items+program: all read by methods
    "rooms": 4,  # COUNT, room+owner, participants, messages+author
}


@pytest.fixture
def seeded(db):
    seed(SIZE)
    return SIZE
