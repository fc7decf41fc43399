"""No leaks: rows a default manager hides stay hidden in optimized responses.

Two kinds of hiding manager: soft deletion (``Review``, ``Label``: a fixed filter) and a
tenant filter read from the request (``Project``, ``Task``, ``Tag``, ``ProjectTag``,
``Note``: a context variable the view sets from a request header, read each time a
query starts). Every relation kind is crossed: reverse foreign key, many-to-many from
both sides, an explicit ``through`` model and its rows, a generic relation, a
``Prefetch`` from hints and a ``Prefetch`` of the view's own ``get_queryset()`` with the
plan's relations pushed inside it. Each optimized response must equal the unoptimized
one and show no row of the other tenant (or no soft-deleted row).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db.models import Prefetch
from rest_framework import generics, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from drf_autoprefetch import AutoPrefetchMixin, optimize, plan_for
from tests.factories import DELETED
from tests.testapp import serializers as shapes
from tests.testapp.models import (
    Book,
    Note,
    Person,
    Project,
    ProjectTag,
    Tag,
    Task,
    current_tenant,
)

pytestmark = pytest.mark.django_db

TENANTS = ("acme", "globex")


def hidden_from(tenant: str) -> str:
    """The marker carried by every row of the other tenant."""
    other = TENANTS[1] if tenant == TENANTS[0] else TENANTS[0]
    return f"<{other} only>"


@contextmanager
def tenant(name: str | None) -> Iterator[None]:
    token = current_tenant.set(name)
    try:
        yield
    finally:
        current_tenant.reset(token)


# --- serializers of the tenant-scoped models ---------------------------------------


class TagBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "text"]


class TaskSerializer(serializers.ModelSerializer):
    tags = TagBriefSerializer(many=True)  # forward many-to-many
    notes = NoteSerializer(many=True)  # generic relation

    class Meta:
        model = Task
        fields = ["id", "title", "tags", "notes"]


class ProjectTagSerializer(serializers.ModelSerializer):
    tag = TagBriefSerializer()

    class Meta:
        model = ProjectTag
        fields = ["id", "weight", "tag"]


class ProjectSerializer(serializers.ModelSerializer):
    tasks = TaskSerializer(many=True)  # reverse foreign key
    tags = TagBriefSerializer(many=True)  # many-to-many through a model
    tag_links = ProjectTagSerializer(source="projecttag_set", many=True)  # the through rows
    notes = NoteSerializer(many=True)  # generic relation

    class Meta:
        model = Project
        fields = ["id", "name", "tasks", "tags", "tag_links", "notes"]


class TagSerializer(serializers.ModelSerializer):
    class ProjectBriefSerializer(serializers.ModelSerializer):
        class Meta:
            model = Project
            fields = ["id", "name"]

    tasks = TaskSerializer(many=True)  # reverse many-to-many
    projects = ProjectBriefSerializer(many=True)  # reverse many-to-many through a model

    class Meta:
        model = Tag
        fields = ["id", "name", "tasks", "projects"]


class PersonBooksLabelsSerializer(serializers.ModelSerializer):
    """Soft-deleting relations below a ``Prefetch`` of the view's own queryset."""

    class BookLabelsSerializer(serializers.ModelSerializer):
        labels = shapes.LabelSerializer(many=True)
        reviews = shapes.ReviewSerializer(many=True)

        class Meta:
            model = Book
            fields = ["id", "title", "labels", "reviews"]

    books = BookLabelsSerializer(many=True)

    class Meta:
        model = Person
        fields = ["id", "name", "books"]


# --- views reading the tenant from the request -------------------------------------


class TenantView(generics.ListAPIView):
    """Sets the tenant from the ``X-Tenant`` header for the whole request."""

    pagination_class = None
    root_model: Any = None

    def dispatch(self, request, *args, **kwargs):
        with tenant(request.headers.get("X-Tenant")):
            return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return self.root_model.objects.all()  # built now, for this request's tenant


class OpenTasksMixin:
    def get_queryset(self):
        open_tasks = Prefetch("tasks", queryset=Task.objects.filter(done=False))
        return Project.objects.prefetch_related(open_tasks)


def views(**attrs: Any) -> tuple[Any, Any]:
    """The same view unoptimized and optimized."""
    bases: tuple[type, ...] = attrs.pop("bases", ())
    plain = type("PlainView", (*bases, TenantView), dict(attrs))
    optimized = type("OptimizedView", (AutoPrefetchMixin, *bases, TenantView), dict(attrs))
    return plain.as_view(), optimized.as_view()


def get(view: Any, tenant_name: str) -> str:
    request = APIRequestFactory().get("/", HTTP_X_TENANT=tenant_name)
    response = view(request)
    assert response.status_code == 200, response.data
    response.render()
    return response.content.decode()


# --- data --------------------------------------------------------------------------


def _tenant_rows(name: str, shared: dict[str, Any]) -> None:
    """One tenant's rows, linked to the other tenant's rows wherever a relation allows."""
    marker = f"<{name} only>"
    project = Project.all_objects.create(tenant=name, name=f"{name} project {marker}")
    tags = [Tag.all_objects.create(tenant=name, name=f"{name} tag {i} {marker}") for i in range(2)]
    for project_of_either in (project, shared.get("project", project)):
        for weight, tag in enumerate(tags):
            ProjectTag.all_objects.create(
                tenant=name, project=project_of_either, tag=tag, weight=weight
            )
        for done in (False, True):
            task = Task.all_objects.create(
                tenant=name,
                project=project_of_either,
                title=f"{name} task {'done' if done else 'open'} {marker}",
                done=done,
            )
            task.tags.set([*tags, *shared.get("tags", [])])
            Note.all_objects.create(tenant=name, content_object=task, text=f"on task {marker}")
        Note.all_objects.create(
            tenant=name, content_object=project_of_either, text=f"on project {marker}"
        )
    shared.update(project=project, tags=tags)


@pytest.fixture
def tenants() -> None:
    shared: dict[str, Any] = {}
    for name in TENANTS:
        _tenant_rows(name, shared)
    _tenant_rows(TENANTS[0], shared)  # the first tenant also links to the second's rows


# --- the tests ---------------------------------------------------------------------

TENANT_CASES = {
    "reverse-fk-m2m-through-generic": {
        "serializer_class": ProjectSerializer,
        "root_model": Project,
    },
    "reverse-m2m-both-kinds": {"serializer_class": TagSerializer, "root_model": Tag},
    "views-own-prefetch": {
        "serializer_class": ProjectSerializer,
        "root_model": Project,
        "bases": (OpenTasksMixin,),
    },
}


@pytest.mark.parametrize("tenant_name", TENANTS)
@pytest.mark.parametrize("case", TENANT_CASES)
def test_tenant_rows_never_leak_into_optimized_responses(tenants, case, tenant_name):
    plain, optimized = views(**TENANT_CASES[case])
    expected = get(plain, tenant_name)
    response = get(optimized, tenant_name)
    assert response == expected
    assert hidden_from(tenant_name) not in response
    assert f"<{tenant_name} only>" in response  # the tenant's own rows are there


def test_each_tenant_sees_its_own_tasks_tags_links_and_notes(tenants):
    _, optimized = views(serializer_class=ProjectSerializer, root_model=Project)
    for tenant_name in TENANTS:
        for project in json.loads(get(optimized, tenant_name)):
            assert project["tasks"]
            assert project["tags"]
            assert project["tag_links"]
            assert project["notes"]
            assert all(task["tags"] for task in project["tasks"])


def test_plan_prefetches_are_built_for_the_tenant_of_each_use(tenants):
    """``plan.prefetches`` is read again for each queryset, as Django's managers are."""
    plan = plan_for(ProjectSerializer)
    for tenant_name in (*TENANTS, *TENANTS):
        with tenant(tenant_name):
            queryset = Project.objects.prefetch_related(*plan.prefetches)
            data = JSONRenderer().render(ProjectSerializer(queryset, many=True).data)
        assert hidden_from(tenant_name).encode() not in data


def test_tenant_is_read_when_the_plan_is_applied_not_when_it_is_built(tenants):
    with tenant(TENANTS[0]):
        plan_for(ProjectSerializer)  # planned (and cached) while the first tenant is active
    with tenant(TENANTS[1]):
        queryset = optimize(Project.objects.all(), ProjectSerializer)
        data = JSONRenderer().render(ProjectSerializer(queryset, many=True).data).decode()
    assert hidden_from(TENANTS[1]) not in data


# --- soft deletion -----------------------------------------------------------------


class OwnBooksPrefetchMixin:
    def get_queryset(self):
        titled = Book.objects.filter(title__startswith="Book")
        return Person.objects.prefetch_related(Prefetch("books", queryset=titled))


class PersonReviewsSerializer(serializers.ModelSerializer):
    reviews = shapes.ReviewSerializer(many=True)

    class Meta:
        model = Person
        fields = ["id", "name", "reviews"]


SOFT_DELETE_CASES = {
    "reverse-fk": {"serializer_class": shapes.BookReviewsSerializer, "root_model": Book},
    "forward-m2m": {"serializer_class": shapes.BookAuthorsSerializer, "root_model": Book},
    "slug-many": {"serializer_class": shapes.BookSlugSerializer, "root_model": Book},
    "prefetch-in-hints": {
        "serializer_class": shapes.BookHintedPrefetchObjectMethodSerializer,
        "root_model": Book,
    },
    "below-views-own-prefetch": {
        "serializer_class": PersonBooksLabelsSerializer,
        "root_model": Person,
        "bases": (OwnBooksPrefetchMixin,),
    },
    "reverse-fk-from-another-side": {
        "serializer_class": PersonReviewsSerializer,
        "root_model": Person,
    },
}


@pytest.mark.parametrize("case", SOFT_DELETE_CASES)
def test_soft_deleted_rows_never_leak_into_optimized_responses(world, case):
    plain, optimized = views(**SOFT_DELETE_CASES[case])
    expected = get(plain, "")
    response = get(optimized, "")
    assert response == expected
    assert DELETED not in response


def test_each_application_reads_the_tenant_again(tenants):
    """Prefetches over a manager that filters per request are never reused."""
    for tenant_name in (*TENANTS, *reversed(TENANTS)):
        with tenant(tenant_name):
            queryset = optimize(Project.objects.all(), ProjectSerializer)
            data = JSONRenderer().render(ProjectSerializer(queryset, many=True).data).decode()
        assert hidden_from(tenant_name) not in data
