"""The list endpoints of the sample and a way to call them in-process.

The demo command and the tests share this: the same viewset is called as a list or
detail view, optimized (the default) or with ``autoprefetch=False``, and its response
is rendered to the exact bytes a client would receive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models
from rest_framework import serializers, viewsets
from rest_framework.test import APIRequestFactory

from chat.views import ChatRoomViewSet
from library.views import AuthorViewSet, BookViewSet, FlexibleBookViewSet, PublisherViewSet
from tickets.views import ActiveOrderViewSet, OrderReceiptViewSet, OrderViewSet

__all__ = ["ENDPOINTS", "Endpoint", "fetch"]


@dataclass(frozen=True)
class Endpoint:
    """One router prefix and the viewset registered under it."""

    name: str
    viewset: type[viewsets.GenericViewSet]

    @property
    def serializer_class(self) -> type[serializers.BaseSerializer]:
        return self.viewset.serializer_class

    @property
    def model(self) -> type[models.Model]:
        return self.viewset.queryset.model


ENDPOINTS = (
    Endpoint("books", BookViewSet),
    Endpoint("books-flexible", FlexibleBookViewSet),
    Endpoint("authors", AuthorViewSet),
    Endpoint("publishers", PublisherViewSet),
    Endpoint("orders", OrderViewSet),
    Endpoint("orders-active", ActiveOrderViewSet),
    Endpoint("receipts", OrderReceiptViewSet),
    Endpoint("rooms", ChatRoomViewSet),
)


@cache
def _view(
    viewset: type[viewsets.GenericViewSet], action: str, optimized: bool
) -> Callable[..., Any]:
    options = {} if optimized else {"autoprefetch": False}
    return viewset.as_view({"get": action}, **options)


def fetch(
    endpoint: Endpoint,
    *,
    optimized: bool = True,
    pk: Any = None,
    params: Mapping[str, Any] | None = None,
) -> bytes:
    """The rendered JSON body of the list view, or of the detail view of ``pk``."""
    path = f"/{endpoint.name}/" if pk is None else f"/{endpoint.name}/{pk}/"
    request = APIRequestFactory().get(path, dict(params or {}), HTTP_ACCEPT="application/json")
    if pk is None:
        response = _view(endpoint.viewset, "list", optimized)(request)
    else:
        response = _view(endpoint.viewset, "retrieve", optimized)(request, pk=pk)
    response.render()
    if response.status_code != 200:
        raise RuntimeError(
            f"GET {path} answered {response.status_code}: {response.content[:200]!r}"
        )
    return response.content
