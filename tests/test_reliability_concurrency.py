"""Concurrency: many threads, a cold plan cache, one threaded server.

Eight client threads, released together, send requests to Django's threaded WSGI server
(one thread per request, on 127.0.0.1) whose views optimize in strict mode, starting
with an empty plan cache. No request may fail,
every response must equal the unoptimized rendering of the same rows, and each
serializer's plan must be built exactly once (``drf_autoprefetch.planner.build_count``),
however many threads asked for it first.

Each thread sends 200 requests on PostgreSQL, 50 on SQLite and MySQL (where opening a
database connection per request makes the full run slow).
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.urls import path
from rest_framework import generics

from drf_autoprefetch import AutoPrefetchMixin, apply, planner
from tests.factories import build_world
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Category, Club, Comment, Country

THREADS = 8


def requests_per_thread() -> int:
    return 200 if connection.vendor == "postgresql" else 50


class StrictList(AutoPrefetchMixin, generics.ListAPIView):
    autoprefetch_strict = True  # a query the plan did not foresee fails the request
    pagination_class = None


#: name -> (serializer, rows); the trees are planned three levels deep, so below the roots.
ENDPOINTS: dict[str, tuple[Any, Any]] = {
    "books": (shapes.BookReviewsSerializer, lambda: Book.objects.all()),
    "authors": (shapes.BookWithAuthorsSerializer, lambda: Book.objects.all()),
    "countries": (shapes.CountryTreeSerializer, lambda: Country.objects.all()),
    "categories": (
        shapes.CategoryTreeSerializer,  # fields built per instance: a dynamic plan
        lambda: Category.objects.filter(parent__isnull=False),
    ),
    "clubs": (shapes.ClubMembershipsSerializer, lambda: Club.objects.all()),
    "comments": (shapes.CommentWithTargetSerializer, lambda: Comment.objects.all()),
    "depth": (shapes.BookDepthSerializer, lambda: Book.objects.all()),
}


def _view(serializer_class: Any, rows: Any) -> Any:
    class View(StrictList):
        def get_queryset(self):
            return rows()

    View.serializer_class = serializer_class
    return View.as_view()


urlpatterns = [
    path(f"{name}/", _view(serializer_class, rows), name=f"reliability-{name}")
    for name, (serializer_class, rows) in ENDPOINTS.items()
]


def _unoptimized(name: str) -> Any:
    serializer_class, rows = ENDPOINTS[name]
    return json.loads(json.dumps(serializer_class(list(rows()), many=True).data))


def _client(base_url: str, names: list[str], start: threading.Barrier, count: int) -> list[Any]:
    """Send ``count`` requests, cycling through ``names``; return what each one got.

    The first request to each endpoint is sent by every thread at once (``start`` is a
    barrier for all of them), so the cold cache is hit by eight requests for each plan.
    """
    got = []
    try:
        for index in range(count):
            name = names[index % len(names)]
            if index < len(names):
                start.wait(timeout=60)
            with urllib.request.urlopen(f"{base_url}/{name}/", timeout=60) as response:
                got.append((name, response.status, json.loads(response.read())))
    except BaseException:
        start.abort()  # the other threads stop waiting for this one
        raise
    return got


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadedWSGIServer):
    """Django's threaded server: one thread, and its own database connections, per request."""

    def _close_connections(self) -> None:
        for conn in connections.all(initialized_only=True):
            if conn.vendor == "sqlite" and conn.is_in_memory_db():
                # Django keeps in-memory databases open; this thread's connection to the
                # shared in-memory database can go, the test's own keeps the data.
                BaseDatabaseWrapper.close(conn)
            else:
                conn.close()


@contextmanager
def threaded_server() -> Iterator[str]:
    """The threaded server on a free port of 127.0.0.1; yields its base URL."""
    server = Server(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("one_database", [False, True])
def test_threads_get_the_unoptimized_answer_and_each_plan_is_built_once(one_database, monkeypatch):
    """With one database, every request shares the plan's ``Prefetch`` objects as built."""
    monkeypatch.setattr(apply, "one_database", lambda: one_database)
    build_world(3)
    expected = {name: _unoptimized(name) for name in ENDPOINTS}
    assert all(expected.values())
    planner.clear_cache()

    names = list(ENDPOINTS)
    start = threading.Barrier(THREADS)
    count = requests_per_thread()
    with threaded_server() as base_url, ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(_client, base_url, names, start, count) for _ in range(THREADS)]
        results = [future.result() for future in futures]

    responses = [item for result in results for item in result]
    assert len(responses) == THREADS * count
    wrong = [(name, status) for name, status, data in responses if data != expected[name]]
    assert wrong == []
    assert planner.build_count == len(ENDPOINTS)


@contextmanager
def switching_often() -> Iterator[None]:
    """Make threads switch after every few bytecodes, so races show."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_threads_asking_for_a_cold_plan_at_once_build_it_once():
    classes = [serializer_class for serializer_class, _ in ENDPOINTS.values()]

    def plan_all(start: threading.Barrier) -> list[Any]:
        start.wait()
        return [planner.plan_for(serializer_class) for serializer_class in classes]

    for _ in range(10):
        planner.clear_cache()
        start = threading.Barrier(THREADS)
        with switching_often(), ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(plan_all, start) for _ in range(THREADS)]
            plans = [future.result() for future in futures]
        assert all(each == plans[0] for each in plans)
        assert planner.build_count == len(classes)
