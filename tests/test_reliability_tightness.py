"""Plan tightness: every element of a plan is needed, and strict mode says by which field.

For every serializer of the test app, each element of its plan is removed in turn (one
``select_related`` path segment with what hangs below it, one prefetch, one annotation
from hints), the reduced plan is applied, and the serializer renders in strict mode. It
must raise :class:`~drf_autoprefetch.UnplannedQueryError` whose message starts with the
serializer field that reads the missing relation. A plan with an element nobody reads,
or a strict mode that blames the wrong field, fails here.

The sample API's serializers live in another Django project, so this runs on the test
app's serializers, which cover the same relation kinds and more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from rest_framework import serializers

from drf_autoprefetch import UnplannedQueryError, plan_for, strict
from drf_autoprefetch.plan import Plan, Relation
from tests.testapp import serializers as s
from tests.testapp.models import Category

#: Fields reading a relation under another name than the relation's: dotted sources,
#: properties and methods with hints. Other fields are found by their ``source``.
READERS: dict[type, dict[str, str]] = {
    s.PersonDottedSourceSerializer: {
        "address": "city",  # source="address.city.name" is the first field reading it
        "address__city": "city",
        "address__city__country": "country_code",
    },
    s.ReviewDottedSourceSerializer: {
        "book": "category",  # source="book.category.name"
        "book__category": "category",
        "book__chapters": "book_chapters",
    },
    s.PersonHintedPropertySerializer: {"address": "city_name", "address__city": "city_name"},
    s.BookHintedMethodSourceSerializer: {"authors": "author_names"},
    s.BookHintedPrefetchMethodSerializer: {"chapters": "chapter_count"},
    s.BookHintedSelectMethodSerializer: {
        "category": "category_path",
        "category__parent": "category_path",
    },
    s.BookHintedPrefetchObjectMethodSerializer: {"good_reviews": "good_reviewers"},
    s.BookHintedAnnotationMethodSerializer: {"annotation chapter_total": "chapter_total"},
}

#: Serializers that run queries by design even with their full plan.
NOT_PLANNABLE = {
    s.BookUnhintedMethodSerializer: "a method field without hints queries once per row",
}

#: Rows to render, where the model's default manager is not the right start.
ROOTS = {
    # Planned three levels deep: start below the roots, where the trees are that deep.
    s.CategoryTreeSerializer: lambda: Category.objects.filter(parent__isnull=False),
}


def _serializer_classes(namespace) -> list[type[serializers.ModelSerializer]]:
    found: list[type[serializers.ModelSerializer]] = []
    for value in vars(namespace).values():
        if (
            isinstance(value, type)
            and issubclass(value, serializers.ModelSerializer)
            and value.__module__ == s.__name__
            and value not in found
        ):
            found.append(value)
            found.extend(cls for cls in _serializer_classes(value) if cls not in found)
    return found


SERIALIZERS = [cls for cls in _serializer_classes(s) if cls not in NOT_PLANNABLE]


# --- reduced plans -----------------------------------------------------------------


def _without_relation(
    relations: tuple[Relation, ...], prefix: str = ""
) -> Iterator[tuple[str, tuple[Relation, ...]]]:
    """Each relation's path, with the relations of the plan that remain without it."""
    for index, relation in enumerate(relations):
        path = f"{prefix}{relation.attr}"
        before, after = relations[:index], relations[index + 1 :]
        yield path, before + after
        for deeper, children in _without_relation(relation.children, f"{path}__"):
            yield deeper, (*before, relation.with_children(children), *after)


def _without_annotation(relations: tuple[Relation, ...]) -> Iterator[tuple[str, Relation]]:
    for relation in relations:
        for name, _ in relation.annotations:
            kept = tuple(item for item in relation.annotations if item[0] != name)
            yield name, dataclasses.replace(relation, annotations=kept)


def reduced_plans(plan: Plan) -> Iterator[tuple[str, Plan]]:
    """``(element, plan without it)`` for every element of ``plan``."""
    for path, relations in _without_relation(plan.relations):
        yield path, dataclasses.replace(plan, relations=relations)
    for name, _ in plan.annotation_items:
        kept = tuple(item for item in plan.annotation_items if item[0] != name)
        yield f"annotation {name}", dataclasses.replace(plan, annotation_items=kept)
    assert not list(_without_annotation(plan.relations)), "nested annotations: extend the test"


# --- who reads what ----------------------------------------------------------------


def _field_named_by_source(serializer, name: str) -> list[str] | None:
    """Field names leading to the field whose source is ``name``, through ``source='*'``."""
    for field in serializer.fields.values():
        if field.source_attrs == [name]:
            return [field.field_name]
        if field.source_attrs == [] and isinstance(field, serializers.BaseSerializer):
            inner = _field_named_by_source(field, name)
            if inner is not None:
                return [field.field_name, *inner]
    return None


def reader(serializer_class, element: str) -> str:
    """The field path strict mode must name when ``element`` is missing from the plan."""
    special = READERS.get(serializer_class, {})
    if element in special:
        return f"{serializer_class.__name__}.{special[element]}"
    names = [serializer_class.__name__]
    current = serializer_class()
    for segment in element.split("__"):
        found = _field_named_by_source(current, segment)
        assert found is not None, f"no field of {type(current).__name__} reads {segment!r}"
        names.extend(found)
        for name in found:
            current = current.fields[name]
        current = getattr(current, "child", current)
    return ".".join(names)


# --- the tests ---------------------------------------------------------------------


def _render_strictly(serializer_class, queryset, context) -> None:
    serializer = serializer_class(strict.fetch_strictly(queryset), many=True, context=context)
    strict.enable(serializer)
    serializer.data  # noqa: B018 - rendering is the point


def _queryset(serializer_class):
    root = ROOTS.get(serializer_class)
    return root() if root else serializer_class.Meta.model._default_manager.all()


def test_the_reader_of_a_relation_is_found_by_its_source():
    assert reader(s.ClubMembershipsSerializer, "membership_set__person__address") == (
        "ClubMembershipsSerializer.memberships.person.address"
    )
    assert reader(s.PersonStarSourceSerializer, "passport__issued_by") == (
        "PersonStarSourceSerializer.location.passport.issued_by"
    )


@pytest.mark.parametrize("serializer_class", SERIALIZERS, ids=lambda cls: cls.__name__)
def test_removing_any_plan_element_makes_strict_mode_name_its_reader(
    serializer_class, make_world, serializer_context
):
    make_world(3)
    plan = plan_for(serializer_class, context=serializer_context)
    # A fresh queryset each time: an evaluated one keeps its rows (the plan is prefetched
    # onto them), so reusing one would test the rows of an earlier rendering.
    _render_strictly(serializer_class, plan.apply(_queryset(serializer_class)), serializer_context)

    problems = []
    for element, reduced in reduced_plans(plan):
        expected = reader(serializer_class, element)
        queryset = _queryset(serializer_class)
        try:
            _render_strictly(serializer_class, reduced.apply(queryset), serializer_context)
        except UnplannedQueryError as exc:
            if not str(exc).startswith(f"{expected} "):
                problems.append(f"without {element}: expected {expected}, got: {exc}")
        else:
            problems.append(f"without {element}: no query ran; the plan holds too much")
    assert problems == [], "\n".join(problems)


def test_every_serializer_with_a_plan_is_covered(serializer_context):
    elements = sum(
        len(list(reduced_plans(plan_for(cls, context=serializer_context)))) for cls in SERIALIZERS
    )
    assert len(SERIALIZERS) >= 50
    assert elements >= 150
