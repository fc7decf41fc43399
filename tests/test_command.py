"""``manage.py prefetch_plans``: text and JSON output, targets, ``--check`` and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import override_settings
from django.urls import include, path
from rest_framework import serializers, viewsets

from drf_autoprefetch import AutoPrefetchMixin, decorators
from drf_autoprefetch.checks import check_serializer
from drf_autoprefetch.discovery import plan_unenforced
from drf_autoprefetch.planner import plan_for_queryset
from tests import urls_only
from tests.testapp import serializers as shapes
from tests.testapp.models import Book, Chapter

# These tests are about how fields the planner cannot see through are reported: they
# plan without inference, which would see through the test app's simple methods.
pytestmark = [pytest.mark.no_db, pytest.mark.usefixtures("no_inference")]

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = (
    "expected a dotted path to a serializer or a DRF view class, "
    "e.g. 'myapp.serializers.BookSerializer'."
)
UNHINTED = f"{__name__}.ChapterUnhintedSerializer"
BAD_SOURCE = f"{__name__}.ChapterBadSourceSerializer"
UNHINTED_WARNING = (
    "ChapterUnhintedSerializer.book_title: method field "
    "ChapterUnhintedSerializer.get_book_title() has no hints; decorate it with @hints(...) "
    "naming what it reads, or the queries it runs, if any, run once per row."
)
BAD_SOURCE_ERROR = (
    "ChapterBadSourceSerializer.book_title: source 'bok' names nothing on testapp.Chapter. "
    "Fix the field's source; relations of Chapter: book. Did you mean 'book' or 'book_id'?"
)


class ChapterUnhintedSerializer(serializers.ModelSerializer):
    book_title = serializers.SerializerMethodField()

    class Meta:
        model = Chapter
        fields = ["id", "book_title"]

    def get_book_title(self, chapter):
        return chapter.book.title


class ChapterBadSourceSerializer(serializers.ModelSerializer):
    book_title = serializers.CharField(source="bok.title")

    class Meta:
        model = Chapter
        fields = ["id", "book_title"]


class ChapterRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "title"]

    def get_fields(self):
        fields = super().get_fields()
        if self.context["request"].query_params.get("brief"):
            del fields["title"]
        return fields


urlpatterns = [path("api/", include("tests.views"))]


@pytest.fixture(autouse=True)
def _no_registered_serializers(monkeypatch):
    """Serializers other test modules decorate must not leak into this output."""
    monkeypatch.setattr(decorators, "_registry", [])


def run(*args: str) -> str:
    out = StringIO()
    call_command("prefetch_plans", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


BOOK_TITLE_PLAN = "  testapp.Book\n    select category (testapp.Category)\n"


def book_title_entry(action: str) -> str:
    return (
        f"tests.views.BookViewSet {action} -> tests.testapp.serializers.BookTitleSerializer "
        f"(1 query)\n{BOOK_TITLE_PLAN}"
    )


@override_settings(ROOT_URLCONF=__name__)
def test_no_target_prints_every_rendering_view_action_then_every_registered_serializer(
    monkeypatch,
):
    monkeypatch.setattr(decorators, "_registry", [shapes.ChapterSerializer])

    assert run() == "\n".join(
        [
            "tests.views.BookViewSet list -> tests.testapp.serializers.BookWithAuthorsSerializer "
            "(2 queries)\n"
            "  testapp.Book\n"
            "    select editor (testapp.Person)\n"
            "    prefetch authors (testapp.Person)\n"
            "      select address (testapp.Address)\n"
            "        select city (testapp.City)\n"
            "          select country (testapp.Country)\n",
            book_title_entry("create, retrieve, update, partial_update"),
            "tests.views.BookViewSet reviews -> tests.testapp.serializers.BookReviewsSerializer "
            "(2 queries)\n"
            "  testapp.Book\n"
            "    prefetch reviews (testapp.Review)\n"
            "      select reviewer (testapp.Person)\n"
            "        select address (testapp.Address)\n"
            "          select city (testapp.City)\n"
            "            select country (testapp.Country)\n",
            "tests.views.PersonList -> tests.testapp.serializers.PersonBriefSerializer "
            "[serializer_class: get_serializer_class() needs a request] (1 query)\n"
            "  testapp.Person\n",
            "tests.testapp.serializers.ChapterSerializer (1 query)\n  testapp.Chapter\n",
        ]
    )


@override_settings(ROOT_URLCONF=urls_only.URLCONF)
def test_no_target_lists_a_serializer_only_the_urlconf_imports(monkeypatch):
    urls_only.forget(monkeypatch)

    assert run() == (
        f"{urls_only.SERIALIZER} (1 query)\n"
        "  testapp.Chapter\n"
        "    ! ChapterTitleSerializer.book_title: method field "
        "ChapterTitleSerializer.get_book_title() has no hints; decorate it with @hints(...) "
        "naming what it reads, or the queries it runs, if any, run once per row.\n"
    )


def test_serializer_target_prints_its_plan_with_its_warnings():
    expected = f"{UNHINTED} (1 query)\n  testapp.Chapter\n    ! {UNHINTED_WARNING}\n"

    assert run(UNHINTED) == expected


def test_view_target_prints_each_action_the_urlconf_routes():
    assert run("tests.views.PersonList", "tests.views.PersonList") == (
        "tests.views.PersonList -> tests.testapp.serializers.PersonBriefSerializer "
        "[serializer_class: get_serializer_class() needs a request] (1 query)\n"
        "  testapp.Person\n"
    )


def test_serializer_that_cannot_be_planned_is_reported_not_raised():
    assert run(BAD_SOURCE, f"{__name__}.ChapterRequestSerializer") == (
        f"{BAD_SOURCE} (not planned)\n"
        f"  error: {BAD_SOURCE_ERROR}\n"
        "\n"
        f"{__name__}.ChapterRequestSerializer (not planned)\n"
        "  error: could not be planned without a request: KeyError: 'request'\n"
    )


def test_json_lists_target_action_serializer_and_plan_in_that_order():
    output = run("tests.views.PersonList", UNHINTED, "--format", "json")

    assert output.startswith('[\n  {\n    "target": "tests.views.PersonList",\n')
    entries = json.loads(output)
    assert entries == [
        {
            "target": "tests.views.PersonList",
            "action": None,
            "serializer": "tests.testapp.serializers.PersonBriefSerializer",
            "plan": plan_unenforced(shapes.PersonBriefSerializer).as_dict(),
        },
        {
            "target": UNHINTED,
            "action": None,
            "serializer": UNHINTED,
            "plan": {
                "model": "testapp.Chapter",
                "select_related": [],
                "annotations": [],
                "only": None,
                "queries": 1,
                "relations": [],
                "warnings": [UNHINTED_WARNING],
            },
        },
    ]
    assert [list(entry) for entry in entries] == [["target", "action", "serializer", "plan"]] * 2


def test_json_viewset_entries_carry_their_action_and_leave_out_destroy():
    entries = json.loads(run("tests.views.BookViewSet", "--format", "json"))

    assert [(entry["action"], entry["serializer"]) for entry in entries] == [
        ("list", "tests.testapp.serializers.BookWithAuthorsSerializer"),
        ("create", "tests.testapp.serializers.BookTitleSerializer"),
        ("retrieve", "tests.testapp.serializers.BookTitleSerializer"),
        ("update", "tests.testapp.serializers.BookTitleSerializer"),
        ("partial_update", "tests.testapp.serializers.BookTitleSerializer"),
        ("reviews", "tests.testapp.serializers.BookReviewsSerializer"),
    ]
    assert entries[0]["plan"]["select_related"] == ["editor"]
    assert entries[0]["plan"]["queries"] == 2


def test_json_error_entry_has_an_error_instead_of_a_plan():
    assert json.loads(run(BAD_SOURCE, "--format", "json")) == [
        {"target": BAD_SOURCE, "action": None, "serializer": BAD_SOURCE, "error": BAD_SOURCE_ERROR}
    ]


def test_check_passes_when_every_plan_is_clean():
    assert run("tests.views.BookViewSet", "--check").startswith("tests.views.BookViewSet list")


@override_settings(DRF_AUTOPREFETCH={"ON_UNPLANNABLE": "raise", "INFER": False})
def test_check_fails_with_status_1_on_warnings_after_printing_the_plans():
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("prefetch_plans", "tests.views.PersonList", UNHINTED, "--check", stdout=out)

    assert str(caught.value) == f"1 of 2 serializers planned with warnings or errors: {UNHINTED}."
    assert caught.value.returncode == 1
    assert f"! {UNHINTED_WARNING}" in out.getvalue()


@override_settings(DRF_AUTOPREFETCH={"ON_UNPLANNABLE": "raise", "INFER": False})
def test_check_with_a_snapshot_writes_it_then_fails_on_warnings(tmp_path):
    path = tmp_path / "plans.json"
    with pytest.raises(CommandError) as caught:
        call_command(
            "prefetch_plans", UNHINTED, "--check", "--snapshot", str(path), stdout=StringIO()
        )

    assert str(caught.value) == f"1 of 1 serializers planned with warnings or errors: {UNHINTED}."
    assert json.loads(path.read_text())["endpoints"]


def test_check_fails_on_errors():
    with pytest.raises(CommandError) as caught:
        call_command("prefetch_plans", BAD_SOURCE, "--check", "--format", "json", stdout=StringIO())

    assert str(caught.value) == f"1 of 1 serializers planned with warnings or errors: {BAD_SOURCE}."
    assert caught.value.returncode == 1


def test_check_exit_status_from_the_command_line():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "django", "prefetch_plans", "--check"]

    clean = subprocess.run(
        [*command, "tests.views.PersonList"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    failing = subprocess.run(
        [*command, "tests.opaque.BookQueryingSerializer"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert (clean.returncode, clean.stderr) == (0, "")
    assert failing.returncode == 1
    assert failing.stderr == (
        "CommandError: 1 of 1 serializers planned with warnings or errors: "
        "tests.opaque.BookQueryingSerializer.\n"
    )
    assert failing.stdout.startswith("tests.opaque.BookQueryingSerializer (1 query)\n")


def test_serializer_nested_in_a_class_is_found_by_its_dotted_path():
    nested = "tests.testapp.serializers.CityAddressesSerializer.AddressResidentsSerializer"

    assert run(nested).startswith(f"{nested} (2 queries)\n  testapp.Address\n")


def test_target_that_cannot_be_imported_is_a_command_error():
    with pytest.raises(CommandError) as caught:
        run("tests.views.Nope")

    assert str(caught.value) == (
        'Cannot import \'tests.views.Nope\' (Module "tests.views" does not define a "Nope" '
        f"attribute/class); {EXPECTED}"
    )
    assert isinstance(caught.value.__cause__, ImportError)


def test_missing_class_nested_in_a_class_is_a_command_error():
    with pytest.raises(CommandError) as caught:
        run("tests.views.BookViewSet.Nope")

    assert str(caught.value) == (
        "Cannot import 'tests.views.BookViewSet.Nope' (No module named "
        f"'tests.views.BookViewSet'; 'tests.views' is not a package); {EXPECTED}"
    )


def test_target_without_a_dot_is_a_command_error():
    with pytest.raises(CommandError, match=r"^Cannot import 'Book' \(Book doesn't look like a"):
        run("Book")


@pytest.mark.parametrize(
    "target", ["tests.views.Ping", "tests.testapp.models.Book", "tests.views.router"]
)
def test_target_that_is_neither_serializer_nor_generic_view_is_a_command_error(target):
    with pytest.raises(CommandError) as caught:
        run(target)

    assert str(caught.value) == (
        f"{target!r} is neither a serializer class nor a generic view class "
        f"(a GenericAPIView subclass); {EXPECTED}"
    )


def test_view_without_a_model_serializer_is_a_command_error():
    with pytest.raises(CommandError) as caught:
        run("rest_framework.generics.ListAPIView")

    assert str(caught.value) == (
        "'rest_framework.generics.ListAPIView' has no serializer with a Meta.model to plan: "
        "neither get_serializer_class() without a request nor serializer_class gives one."
    )


@override_settings()
def test_nothing_to_plan():
    del settings.ROOT_URLCONF

    assert run() == "Nothing to plan: no generic view and no @auto_prefetch serializer.\n"
    assert run("--format", "json") == "[]\n"


LATE = "tests.mixin_order.LateAuthorList"
LATE_ERROR = (
    "LateAuthorList lists AutoPrefetchMixin after the DRF view class ListAPIView: "
    "GenericAPIView.get_queryset() comes first in the MRO, so no plan is applied and nothing "
    "is optimized. List AutoPrefetchMixin before ListAPIView: "
    "class LateAuthorList(AutoPrefetchMixin, ListAPIView)."
)


def test_view_listing_the_mixin_after_the_drf_view_class_is_not_applied():
    assert run(LATE) == (
        f"{LATE} -> tests.testapp.serializers.BookWithAuthorsSerializer (not applied)\n"
        f"  error: {LATE_ERROR}\n"
        "  testapp.Book\n"
        "    select editor (testapp.Person)\n"
        "    prefetch authors (testapp.Person)\n"
        "      select address (testapp.Address)\n"
        "        select city (testapp.City)\n"
        "          select country (testapp.Country)\n"
    )


def test_json_entry_of_a_view_that_never_applies_its_plan_says_why():
    entries = json.loads(run(LATE, "--format", "json"))

    assert entries == [
        {
            "target": LATE,
            "action": None,
            "serializer": "tests.testapp.serializers.BookWithAuthorsSerializer",
            "plan": plan_unenforced(shapes.BookWithAuthorsSerializer).as_dict(),
            "not_applied": LATE_ERROR,
        }
    ]


@override_settings(ROOT_URLCONF="tests.mixin_order")
def test_check_fails_on_views_that_never_apply_their_plan():
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("prefetch_plans", "--check", stdout=out)

    assert str(caught.value) == (
        "3 of 6 views never apply their plan (AutoPrefetchMixin listed after the DRF view "
        "class): tests.mixin_order.LateBookViewSet, tests.mixin_order.LateChildViewSet, "
        f"{LATE}."
    )
    assert caught.value.returncode == 1
    headers = [line for line in out.getvalue().splitlines() if line.startswith("tests.")]
    actions = "list, create, retrieve, update, partial_update"
    assert [header.partition(" -> ")[0] for header in headers] == [
        f"tests.mixin_order.LateBookViewSet {actions}",
        f"tests.mixin_order.LateChildViewSet {actions}",
        f"tests.mixin_order.LateOverrideViewSet {actions}",
        f"tests.mixin_order.EarlyOverrideViewSet {actions}",
        "tests.mixin_order.PlainViewSet list, retrieve",
        "tests.mixin_order.LateAuthorList",
    ]
    assert [header.rpartition(" (")[2] for header in headers] == [
        *["not applied)"] * 2,
        "2 queries)",  # LateOverrideViewSet applies its plan
        *["1 query)"] * 2,  # EarlyOverrideViewSet, PlainViewSet
        "not applied)",  # LateAuthorList
    ]


def test_check_names_both_serializers_with_warnings_and_views_not_applied():
    with pytest.raises(CommandError) as caught:
        call_command("prefetch_plans", UNHINTED, LATE, "--check", stdout=StringIO())

    assert str(caught.value) == (
        f"1 of 2 serializers planned with warnings or errors: {UNHINTED}. "
        f"1 of 1 views never apply their plan (AutoPrefetchMixin listed after the DRF view "
        f"class): {LATE}."
    )


def test_explain_says_why_each_relation_loads_as_it_does_and_which_columns():
    output = run("--explain", "tests.test_columns.ShelfManualsSerializer")

    assert output == (
        "tests.test_columns.ShelfManualsSerializer (2 queries)\n"
        "  testapp.Shelf\n"
        "    columns: all: leaving out code (CharField) does not pay\n"
        "    prefetch manuals (testapp.Manual) only id, shelf, title: prefetched: a to-many "
        "relation, one query for the rows of every parent\n"
        "      columns: only id, shelf, title; leaves out pages (PositiveIntegerField), body "
        "(TextField), data (JSONField), published (DateTimeField), updated (DateTimeField)\n"
    )


def test_explain_names_what_makes_a_single_valued_relation_a_query_of_its_own():
    output = run("--explain", "--format", "json", "tests.test_real_world.ParcelSerializer")

    (entry,) = json.loads(output)
    assert entry["explain"][2] == (
        "  prefetch-one warehouse (testapp.Warehouse): a query of its own: a foreign key "
        "without a database constraint (a join could drop rows)"
    )


# --- --snapshot and --compare ------------------------------------------------------

SNAPSHOT_TARGETS = ("tests.test_columns.ShelfManualsSerializer", "tests.views.BookViewSet")


def snapshot_of(tmp_path, *targets):
    path = tmp_path / "plans.json"
    output = run(*targets, "--snapshot", str(path))
    return path, output


def test_snapshot_writes_every_endpoint_in_a_stable_order(tmp_path):
    path, output = snapshot_of(tmp_path, *SNAPSHOT_TARGETS)

    data = json.loads(path.read_text())
    endpoints = [entry["endpoint"] for entry in data["endpoints"]]
    assert output == f"Wrote {len(endpoints)} endpoints to {path}.\n"
    assert data["format"] == 1
    assert endpoints == sorted(endpoints)
    assert "tests.views.BookViewSet list" in endpoints
    assert "tests.views.BookViewSet destroy" not in endpoints  # renders no row
    shelf = data["endpoints"][endpoints.index("tests.test_columns.ShelfManualsSerializer")]
    assert shelf["queries"] == 2
    assert len(shelf["digest"]) == 16
    assert shelf["plan"] == [
        "testapp.Shelf",
        "  prefetch manuals (testapp.Manual) only id, shelf, title",
    ]
    again, _ = snapshot_of(tmp_path, *reversed(SNAPSHOT_TARGETS))
    assert again.read_text() == path.read_text()


def test_compare_passes_when_nothing_changed(tmp_path):
    path, _ = snapshot_of(tmp_path, *SNAPSHOT_TARGETS)

    output = run(*SNAPSHOT_TARGETS, "--compare", str(path))

    count = len(json.loads(path.read_text())["endpoints"])
    assert output == f"{count} endpoints as in {path}.\n"


def edited(path, key, **changes):
    data = json.loads(path.read_text())
    for entry in data["endpoints"]:
        if entry["endpoint"] == key:
            entry.update(changes)
    path.write_text(json.dumps(data))


def test_compare_fails_when_a_count_grows_and_shows_the_plan_diff(tmp_path):
    path, _ = snapshot_of(tmp_path, "tests.test_columns.ShelfManualsSerializer")
    edited(
        path,
        "tests.test_columns.ShelfManualsSerializer",
        queries=1,
        digest="0" * 16,
        plan=["testapp.Shelf"],
    )
    out = StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command(
            "prefetch_plans",
            "tests.test_columns.ShelfManualsSerializer",
            "--compare",
            str(path),
            stdout=out,
        )

    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == (
        f"1 of 1 endpoints differ from {path}: tests.test_columns.ShelfManualsSerializer. "
        f"If the change is intended, write a new snapshot with --snapshot {path}."
    )
    assert out.getvalue() == (
        "tests.test_columns.ShelfManualsSerializer: queries grew from 1 to 2\n"
        "  --- snapshot\n"
        "  +++ now\n"
        "  @@ -1 +1,2 @@\n"
        "   testapp.Shelf\n"
        "  +  prefetch manuals (testapp.Manual) only id, shelf, title\n"
    )


def test_compare_fails_when_a_plan_changes_at_the_same_count(tmp_path):
    path, _ = snapshot_of(tmp_path, "tests.test_columns.ShelfManualsSerializer")
    edited(path, "tests.test_columns.ShelfManualsSerializer", digest="0" * 16)

    with pytest.raises(CommandError, match="1 of 1 endpoints differ"):
        run("tests.test_columns.ShelfManualsSerializer", "--compare", str(path))


def test_compare_reports_new_and_gone_endpoints_without_failing(tmp_path):
    path, _ = snapshot_of(tmp_path, "tests.test_columns.ShelfManualsSerializer")
    edited(path, "tests.test_columns.ShelfManualsSerializer", endpoint="old.Serializer")

    output = run("tests.test_columns.ShelfManualsSerializer", "--compare", str(path))

    assert output == (
        "old.Serializer: no longer planned (removed from the URLconf?)\n"
        "tests.test_columns.ShelfManualsSerializer: new endpoint (2 queries)\n"
        f"1 endpoints as in {path}.\n"
    )


def test_compare_refuses_a_file_that_is_not_a_snapshot(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"endpoints": []}')

    with pytest.raises(CommandError) as excinfo:
        run("--compare", str(path))

    assert str(excinfo.value) == (
        f"{path} is not a snapshot of format 1; write one with prefetch_plans --snapshot {path}."
    )


class ChapterCountSerializer(serializers.ModelSerializer):
    """Reads an annotation of the view's queryset, as Nautobot's counts do."""

    chapter_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "chapter_count"]


class AnnotatedBookViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Book.objects.annotate(chapter_count=Count("chapters"))
    serializer_class = ChapterCountSerializer


def test_a_field_reading_the_views_annotation_is_no_warning_in_check_nor_at_run_time(caplog):
    target = "tests.test_command.AnnotatedBookViewSet"

    output = run(target, "--check")

    assert output == (
        f"{target} list, retrieve -> tests.test_command.ChapterCountSerializer (1 query)\n"
        "  testapp.Book\n"
    )
    assert check_serializer(ChapterCountSerializer, ["chapter_count"]) == []
    with caplog.at_level("WARNING", logger="drf_autoprefetch"):
        plan = plan_for_queryset(ChapterCountSerializer, AnnotatedBookViewSet.queryset)
    assert plan.warnings == ()
    assert caplog.records == []
