"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from tests.factories import World, build_world


@pytest.fixture
def make_world(db):
    """Build the deterministic test data at a given size: ``make_world(size)``."""

    def make(size: int = 2, *, using: str = "default") -> World:
        return build_world(size, using=using)

    return make


@pytest.fixture
def world(make_world) -> World:
    """The test data at its default size."""
    return make_world()


@pytest.fixture
def api_request() -> Request:
    """A DRF request, for serializers that build absolute URLs."""
    return Request(APIRequestFactory().get("/"))


@pytest.fixture
def serializer_context(api_request) -> dict[str, object]:
    return {"request": api_request}


@pytest.fixture
def no_inference(settings):
    """Plans as without inference: for tests of how unplannable fields are reported."""
    settings.DRF_AUTOPREFETCH = {**getattr(settings, "DRF_AUTOPREFETCH", {}), "INFER": False}
