"""Inference: the planner reads method fields, properties, ``__str__`` and custom fields.

Serializers shaped after NetBox's API (a ``display`` field through ``__str__``, a
parent device through a reverse one-to-one, ``primary_ip`` as a property, interfaces
serialized inside a method): each renders what it renders unoptimized, and reaches the
count of an expert's hand-written queryset with no hint.
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from drf_autoprefetch import hints, optimize, plan_for
from drf_autoprefetch.tree import Kind
from tests.testapp import serializers as shapes
from tests.testapp.models import (
    Book,
    Category,
    Chapter,
    Device,
    DeviceBay,
    DeviceType,
    Interface,
    IPAddress,
    Manufacturer,
    Warehouse,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dcim(db):
    makers = [Manufacturer.objects.create(name=name) for name in ("Juniper", "Arista")]
    types = [
        DeviceType.objects.create(manufacturer=makers[index % 2], model=f"T{index}")
        for index in range(3)
    ]
    sites = [Warehouse.objects.create(name=name) for name in ("Berlin", "Lagos")]
    addresses = [IPAddress.objects.create(address=f"10.0.0.{index}") for index in range(4)]
    devices = []
    for index in range(8):
        devices.append(
            Device.objects.create(
                name="" if index % 3 == 0 else f"dev{index}",
                device_type=types[index % 3],
                site=sites[index % 2],
                primary_ip4=addresses[index % 4] if index % 2 else None,
                primary_ip6=addresses[(index + 1) % 4] if index % 4 == 1 else None,
            )
        )
        for number in range(index % 4):
            Interface.objects.create(
                device=devices[-1], name=f"eth{number}", enabled=bool(number % 2)
            )
    for index, child in enumerate(devices[4:]):
        DeviceBay.objects.create(device=devices[index], name=f"bay{index}", installed_device=child)


def render(serializer_class, rows):
    return json.dumps(serializer_class(rows, many=True).data, sort_keys=True, default=str)


def optimized(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = render(serializer_class, optimize(queryset, serializer_class))
    return data, len(captured)


class InterfaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interface
        fields = ["id", "name", "enabled"]


class DeviceSerializer(serializers.ModelSerializer):
    """NetBox-like: every value below comes from code the planner reads."""

    display = serializers.SerializerMethodField()
    primary_ip = serializers.SerializerMethodField()
    parent_device = serializers.SerializerMethodField()
    interface_count = serializers.SerializerMethodField()
    interfaces = serializers.SerializerMethodField()
    site_name = serializers.CharField(source="site.name", read_only=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "display",
            "primary_ip",
            "parent_device",
            "interface_count",
            "interfaces",
            "site_name",
        ]

    def get_display(self, obj):
        return str(obj)

    def get_primary_ip(self, obj):
        address = obj.primary_ip
        return str(address) if address else None

    def get_parent_device(self, obj):
        parent = obj.get_parent_device()
        if parent is None:
            return None
        return {"id": parent.pk, "name": parent.name}

    def get_interface_count(self, obj):
        return obj.interfaces.count()

    def get_interfaces(self, obj):
        return InterfaceSerializer(obj.interfaces.all(), many=True, context=self.context).data


def test_netbox_shaped_serializer_reaches_the_hand_written_count_with_no_hint(dcim):
    hand_written = Device.objects.select_related(
        "device_type__manufacturer", "site", "primary_ip4", "primary_ip6", "parent_bay__device"
    ).prefetch_related("interfaces")
    with CaptureQueriesContext(connection) as expert:
        expected = render(DeviceSerializer, hand_written)
    with CaptureQueriesContext(connection) as naive:
        assert render(DeviceSerializer, Device.objects.all()) == expected

    data, count = optimized(DeviceSerializer, Device.objects.all())

    assert data == expected
    assert count == len(expert) == 2
    assert len(naive) > 30
    assert plan_for(DeviceSerializer).warnings == ()


def test_plan_marks_what_was_inferred_and_from_where():
    assert str(plan_for(DeviceSerializer)) == (
        "testapp.Device\n"
        "  select device_type (testapp.DeviceType) [inferred from "
        "DeviceSerializer.get_display -> Device.__str__]\n"
        "    select manufacturer (testapp.Manufacturer) [inferred from "
        "DeviceSerializer.get_display -> Device.__str__ -> DeviceType.__str__]\n"
        "  select parent_bay (testapp.DeviceBay) [inferred from "
        "DeviceSerializer.get_parent_device -> Device.get_parent_device]\n"
        "    select device (testapp.Device) [inferred from "
        "DeviceSerializer.get_parent_device -> Device.get_parent_device]\n"
        "  select primary_ip4 (testapp.IPAddress) [inferred from "
        "DeviceSerializer.get_primary_ip -> Device.primary_ip]\n"
        "  select primary_ip6 (testapp.IPAddress) [inferred from "
        "DeviceSerializer.get_primary_ip -> Device.primary_ip]\n"
        "  select site (testapp.Site)\n"
        "  prefetch interfaces (testapp.Interface) [inferred from "
        "DeviceSerializer.get_interface_count]"
    ).replace("testapp.Site", "testapp.Warehouse")
    (interfaces,) = [
        relation
        for relation in plan_for(DeviceSerializer).as_dict()["relations"]
        if relation["lookup"] == "interfaces"
    ]
    assert interfaces["inferred_from"] == "inferred from DeviceSerializer.get_interface_count"


class DeviceTypeSerializer(serializers.ModelSerializer):
    display = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = DeviceType
        fields = ["id", "display"]


class DeviceTypeListSerializer(serializers.ModelSerializer):
    """``__str__`` as a source, and through a StringRelatedField."""

    device_type = DeviceTypeSerializer(read_only=True)
    type_name = serializers.StringRelatedField(source="device_type")

    class Meta:
        model = Device
        fields = ["id", "device_type", "type_name"]


def test_str_as_a_source_and_behind_a_string_related_field_is_followed(dcim):
    plan = plan_for(DeviceTypeListSerializer)

    data, count = optimized(DeviceTypeListSerializer, Device.objects.all())

    assert data == render(DeviceTypeListSerializer, Device.objects.all())
    assert count == plan.query_count == 1
    assert plan.select_related == ("device_type__manufacturer",)
    assert plan.warnings == ()


class DeviceEnabledCountSerializer(serializers.ModelSerializer):
    enabled_interfaces = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "enabled_interfaces"]

    def get_enabled_interfaces(self, obj):
        return obj.interfaces.filter(enabled=True).count()


def test_a_filter_on_a_related_manager_is_not_inferred_and_says_what_to_write(dcim):
    plan = plan_for(DeviceEnabledCountSerializer)

    data, count = optimized(DeviceEnabledCountSerializer, Device.objects.all())

    assert data == render(DeviceEnabledCountSerializer, Device.objects.all())
    assert plan.relations == ()
    assert count == 1 + Device.objects.count()
    assert plan.warnings == (
        "DeviceEnabledCountSerializer.enabled_interfaces: "
        "DeviceEnabledCountSerializer.get_enabled_interfaces calls .filter() on interfaces, "
        "a query of its own for each row that no prefetch serves; declare a "
        "Prefetch(..., to_attr=...) in @hints(...) and read that attribute instead.",
    )


class HintedEnabledCountSerializer(serializers.ModelSerializer):
    enabled_interfaces = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "enabled_interfaces"]

    @hints(
        prefetch_related=[
            Prefetch("interfaces", Interface.objects.filter(enabled=True), to_attr="enabled")
        ]
    )
    def get_enabled_interfaces(self, obj):
        if hasattr(obj, "enabled"):
            return len(obj.enabled)
        return obj.interfaces.filter(enabled=True).count()


def test_explicit_hints_replace_inference(dcim):
    plan = plan_for(HintedEnabledCountSerializer)

    data, count = optimized(HintedEnabledCountSerializer, Device.objects.all())

    assert data == render(HintedEnabledCountSerializer, Device.objects.all())
    assert count == plan.query_count == 2
    (relation,) = plan.relations
    assert (relation.to_attr, relation.origin) == ("enabled", None)


class SilencedSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "label"]

    @hints()
    def get_label(self, obj):
        return obj.device_type.model


def test_bare_hints_declare_that_nothing_is_read(dcim):
    plan = plan_for(SilencedSerializer)

    assert plan.relations == ()
    assert plan.warnings == ()


def helper(device):
    return device.site.name


class HandedSerializer(serializers.ModelSerializer):
    where = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "where"]

    def get_where(self, obj):
        return helper(obj)


def test_the_object_handed_to_other_code_stays_a_warning(dcim):
    plan = plan_for(HandedSerializer)

    assert plan.relations == ()
    assert plan.warnings == (
        "HandedSerializer.where: HandedSerializer.get_where hands the object to helper(), "
        "which the planner does not follow; decorate the code with @hints(...) naming what "
        "it reads.",
    )
    data, _ = optimized(HandedSerializer, Device.objects.all())
    assert data == render(HandedSerializer, Device.objects.all())


@pytest.mark.usefixtures("no_inference")
def test_the_infer_setting_turns_inference_off():
    plan = plan_for(DeviceSerializer)

    assert [relation.attr for relation in plan.relations] == ["site"]
    assert len(plan.warnings) == 5


def test_inferred_relations_below_a_prefetch_join_inside_its_queryset(dcim):
    class BayDeviceSerializer(serializers.ModelSerializer):
        installed = serializers.SerializerMethodField()

        class Meta:
            model = DeviceBay
            fields = ["id", "installed"]

        def get_installed(self, bay):
            child = bay.installed_device
            return str(child) if child is not None else None

    class DeviceBaysSerializer(serializers.ModelSerializer):
        bays = BayDeviceSerializer(many=True, read_only=True)

        class Meta:
            model = Device
            fields = ["id", "bays"]

    plan = plan_for(DeviceBaysSerializer)

    data, count = optimized(DeviceBaysSerializer, Device.objects.all())

    assert data == render(DeviceBaysSerializer, Device.objects.all())
    assert count == plan.query_count == 2
    (bays,) = plan.relations
    assert bays.kind is Kind.PREFETCH
    assert [child.attr for child in bays.children] == ["installed_device"]


def test_a_query_is_matched_to_the_hint_that_would_plan_it():
    from drf_autoprefetch.suggest import hint_for_query

    joined = 'SELECT "testapp_manufacturer"."id" FROM "testapp_manufacturer" WHERE id = %s'
    prefetched = "SELECT COUNT(*) FROM `testapp_interface` WHERE device_id = %s"

    assert hint_for_query(Device, joined) == '@hints(select_related=["device_type__manufacturer"])'
    assert hint_for_query(Device, prefetched) == '@hints(prefetch_related=["interfaces"])'
    assert hint_for_query(Device, "SELECT 1") is None
    assert hint_for_query(None, joined) is None


BADGES = {True: "success", False: "secondary"}


class PrecisionSerializer(serializers.ModelSerializer):
    """Code that looks like queries but is none, and a manager read for its class."""

    badge = serializers.SerializerMethodField()
    interface_model = serializers.SerializerMethodField()

    class Meta:
        model = Interface
        fields = ["id", "badge", "interface_model"]

    def get_badge(self, interface):
        return BADGES.get(interface.enabled)

    def get_interface_model(self, interface):
        return interface.device.interfaces.model.__name__


def test_a_dict_get_and_a_managers_class_are_neither_queries_nor_loads(dcim):
    plan = plan_for(PrecisionSerializer)

    data, count = optimized(PrecisionSerializer, Interface.objects.all())

    assert data == render(PrecisionSerializer, Interface.objects.all())
    assert plan.warnings == ()
    assert plan.select_related == ("device",)
    assert plan.prefetches == ()
    assert count == 1


class SwappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interface
        fields = ["id", "name"]

    def to_representation(self, instance):
        instance = type(instance).objects.get(pk=instance.pk)
        return super().to_representation(instance)


def test_code_rendering_another_object_than_it_is_given_is_a_warning(dcim):
    assert plan_for(SwappingSerializer).warnings == (
        "SwappingSerializer: SwappingSerializer.to_representation replaces the object it is "
        "given with another one; what it reads from that one is not planned.",
    )


class TwoPathsSerializer(serializers.ModelSerializer):
    where = serializers.CharField(source="location", read_only=True)
    again = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "where", "again"]

    def get_again(self, obj):
        return obj.location


def test_one_cause_met_by_two_fields_is_one_warning_naming_both(dcim):
    assert plan_for(TwoPathsSerializer).warnings == (
        "TwoPathsSerializer.again, TwoPathsSerializer.where: Device.location hands the object "
        "to describe_site(), which the planner does not follow; decorate the code with "
        "@hints(...) naming what it reads.",
    )
    data, _ = optimized(TwoPathsSerializer, Device.objects.all())
    assert data == render(TwoPathsSerializer, Device.objects.all())


# ------------------------------------------------------------- record and suggest


def _suggested(*targets):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("prefetch_plans", *targets, "--suggest", stdout=out)
    return out.getvalue()


def test_prefetch_plans_suggests_a_prefetch_for_a_filtered_related_manager():
    output = _suggested("tests.test_inference.DeviceEnabledCountSerializer")

    assert (
        "    suggest for DeviceEnabledCountSerializer.enabled_interfaces: "
        '@hints(prefetch_related=[Prefetch("interfaces", '
        'queryset=Interface.objects.filter(enabled=True), to_attr="interfaces_filter")]) '
        "on DeviceEnabledCountSerializer.get_enabled_interfaces"
    ) in output.splitlines()


@pytest.mark.usefixtures("no_inference")
def test_prefetch_plans_suggests_what_the_code_reads_when_inference_is_off():
    output = _suggested("tests.test_inference.DeviceSerializer").splitlines()

    assert (
        "    suggest for DeviceSerializer.display: "
        '@hints(select_related=["device_type__manufacturer"]) on DeviceSerializer.get_display'
    ) in output
    assert (
        "    suggest for DeviceSerializer.interfaces: "
        '@hints(prefetch_related=["interfaces"]) on DeviceSerializer.get_interfaces'
    ) in output


def test_prefetch_plans_says_when_it_has_no_suggestion():
    output = _suggested("tests.test_inference.HandedSerializer").splitlines()

    assert "    no suggestion for HandedSerializer.where" in output


def test_assert_optimized_names_the_field_of_each_extra_query_and_its_hint(dcim):
    from drf_autoprefetch.testing import assert_optimized

    with pytest.raises(AssertionError) as excinfo:
        assert_optimized(DeviceEnabledCountSerializer, Device.objects.all())

    message = str(excinfo.value)
    assert "Queries the plan did not foresee, by the field that ran them:\n" in message
    assert re.search(
        r"^  DeviceEnabledCountSerializer\.enabled_interfaces \(8x\): SELECT COUNT\(\*\) ",
        message,
        re.MULTILINE,
    )
    assert (
        '    add @hints(prefetch_related=["interfaces"]) to the code behind '
        "DeviceEnabledCountSerializer.enabled_interfaces"
    ) in message
    assert "The plan's warnings:\n  ! DeviceEnabledCountSerializer.enabled_interfaces: " in message


def test_prefetch_plans_json_carries_the_suggestions_with_suggest():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    target = "tests.test_inference.DeviceEnabledCountSerializer"
    call_command("prefetch_plans", target, "--suggest", "--format", "json", stdout=out)

    (entry,) = json.loads(out.getvalue())
    (suggestion,) = entry["suggestions"]
    assert suggestion["warning"] == entry["plan"]["warnings"][0]
    assert suggestion["hint"].startswith('@hints(prefetch_related=[Prefetch("interfaces", ')


class DeviceTerminationsSerializer(serializers.ModelSerializer):
    """A nested list read from a property (NetBox's cable terminations read this way)."""

    enabled_interfaces = InterfaceSerializer(many=True, read_only=True)

    class Meta:
        model = Device
        fields = ["id", "enabled_interfaces"]


def test_a_property_building_related_rows_is_read_and_its_relation_prefetched(dcim):
    plan = plan_for(DeviceTerminationsSerializer)

    data, count = optimized(DeviceTerminationsSerializer, Device.objects.all())

    assert data == render(DeviceTerminationsSerializer, Device.objects.all())
    assert count == plan.query_count == 2
    (relation,) = plan.relations
    assert relation.origin == "inferred from Device.enabled_interfaces"
    assert plan.warnings == (
        "DeviceTerminationsSerializer.enabled_interfaces: the nested serializer reads what "
        "Device.enabled_interfaces returns; its relations are not optimized. To load them, "
        "declare in the hints of Device.enabled_interfaces a Prefetch with a to_attr of its "
        "own (not 'enabled_interfaces': Device.enabled_interfaces holds that name, so Django "
        "would never fill it) and return that attribute.",
    )


class CombinedSerializer(serializers.ModelSerializer):
    """Like oscar's ``Product.options``: two querysets combined with ``|``."""

    count = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "count"]

    def get_count(self, obj):
        return (obj.interfaces.all() | obj.bays.all().values_list("pk", flat=True)).count()


def test_querysets_combined_with_an_operator_are_not_prefetched(dcim):
    plan = plan_for(CombinedSerializer)

    assert plan.relations == ()
    assert plan.warnings == (
        "CombinedSerializer.count: CombinedSerializer.get_count combines interfaces with |, "
        "a query of its own for each row that no prefetch serves; declare a "
        "Prefetch(..., to_attr=...) in @hints(...) and read that attribute instead.",
        "CombinedSerializer.count: CombinedSerializer.get_count calls .values_list() on bays, "
        "a query of its own for each row that no prefetch serves; declare a "
        "Prefetch(..., to_attr=...) in @hints(...) and read that attribute instead.",
    )


class HandedRowsSerializer(serializers.ModelSerializer):
    names = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "names"]

    def get_names(self, obj):
        return [helper(interface) for interface in obj.interfaces.all()]


def test_rows_handed_to_other_code_are_named_in_words():
    (warning,) = plan_for(HandedRowsSerializer).warnings

    assert warning == (
        "HandedRowsSerializer.names: HandedRowsSerializer.get_names hands the rows of "
        "interfaces to helper(), which the planner does not follow; decorate the code with "
        "@hints(...) naming what it reads."
    )


def count_late(rows):
    """Filters the rows it gets: a query of its own, whatever was prefetched."""
    return rows.filter(number__gt=1).count()


class LateChaptersSerializer(serializers.ModelSerializer):
    late = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "late"]

    def get_late(self, obj):
        return count_late(obj.chapters.all())


def test_rows_handed_whole_to_other_code_are_not_prefetched(world):
    plan = plan_for(LateChaptersSerializer)
    expected, plain = _rendered(LateChaptersSerializer, Book.objects.all())

    data, queries = _rendered(
        LateChaptersSerializer, optimize(Book.objects.all(), LateChaptersSerializer)
    )

    assert plan.relations == ()  # the code may filter them: a prefetch would be a query more
    assert plan.warnings == (
        "LateChaptersSerializer.late: LateChaptersSerializer.get_late hands the rows of "
        "chapters to count_late(), which the planner does not follow; decorate the code with "
        "@hints(...) naming what it reads.",
    )
    assert (data, queries) == (expected, plain)


class LateSiblingsSerializer(serializers.ModelSerializer):
    late = serializers.SerializerMethodField()

    class Meta:
        model = Chapter
        fields = ["id", "late"]

    def get_late(self, obj):
        return count_late(obj.book.chapters.all())


def test_what_handed_rows_hang_from_is_still_joined(world):
    plan = plan_for(LateSiblingsSerializer)

    assert str(plan).splitlines()[:2] == [
        "testapp.Chapter",
        "  select book (testapp.Book) [inferred from LateSiblingsSerializer.get_late]",
    ]


@pytest.mark.usefixtures("no_inference")
def test_no_suggestion_silences_code_that_queries():
    output = _suggested("tests.test_inference.DeviceEnabledCountSerializer").splitlines()

    assert "    no suggestion for DeviceEnabledCountSerializer.enabled_interfaces" in output


class ScoredInterfaceSerializer(serializers.ModelSerializer):
    score = serializers.IntegerField()

    class Meta:
        model = Interface
        fields = ["id", "score"]


class StatsSerializer(serializers.Serializer):
    size = serializers.IntegerField()

    def to_representation(self, device):
        return {"size": len(device.name)}


class BuiltInCodeSerializer(serializers.ModelSerializer):
    """Serializers built in methods over rows the code changed, or over the object."""

    scored = serializers.SerializerMethodField()
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "scored", "stats"]

    def get_scored(self, obj):
        rows = obj.interfaces.all()
        for row in rows:
            row.score = len(row.name)
        return ScoredInterfaceSerializer(rows, many=True).data

    def get_stats(self, obj):
        return StatsSerializer(obj).data


def test_serializers_built_in_code_over_changed_rows_never_fail_planning(dcim):
    plan = plan_for(BuiltInCodeSerializer)

    data, count = optimized(BuiltInCodeSerializer, Device.objects.all())

    assert data == render(BuiltInCodeSerializer, Device.objects.all())
    assert count == plan.query_count == 2
    assert [relation.attr for relation in plan.relations] == ["interfaces"]


class LongChapterCountSerializer(serializers.ModelSerializer):
    """Chains a query method onto a property that returns a filtered queryset."""

    long_chapters = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "long_chapters"]

    def get_long_chapters(self, obj):
        return obj.long_chapters.filter(title__startswith="C").count()


class LaterChaptersSerializer(serializers.ModelSerializer):
    later = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "later"]

    def get_later(self, obj):
        return [chapter.title for chapter in obj.chapters_from_two()]


class SiblingsSerializer(serializers.ModelSerializer):
    siblings = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "siblings"]

    def get_siblings(self, obj):
        return [book.title for book in obj.get_siblings()]


@pytest.mark.parametrize(
    ("serializer_class", "warning"),
    [
        pytest.param(
            LongChapterCountSerializer,
            "LongChapterCountSerializer.long_chapters: Book.long_chapters calls .filter() on "
            "chapters, a query of its own for each row that no prefetch serves; declare a "
            "Prefetch(..., to_attr=...) in @hints(...) and read that attribute instead.",
            id="a query chained onto a property's queryset",
        ),
        pytest.param(
            LaterChaptersSerializer,
            "LaterChaptersSerializer.later: Book.chapters_from_two calls .filter() on "
            "chapters, a query of its own for each row that no prefetch serves; declare a "
            "Prefetch(..., to_attr=...) in @hints(...) and read that attribute instead.",
            id="a partial method, read through to its function",
        ),
        pytest.param(
            SiblingsSerializer,
            "SiblingsSerializer.siblings: Book.get_siblings hands the object to "
            "getattr(type(self).objects, method)(), which the planner does not follow; "
            "decorate the code with @hints(...) naming what it reads.",
            id="the object handed to a callee found at run time",
        ),
    ],
)
def test_code_that_queries_or_is_not_followed_is_one_warning_and_no_load(serializer_class, warning):
    plan = plan_for(serializer_class)

    assert plan.relations == ()
    assert plan.warnings == (warning,)


# ------------------------------------------- code reading what is loaded (pretalx)


class ChapterTitleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "title"]


class OrderedChaptersSerializer(serializers.ModelSerializer):
    """Like pretalx's submission serializers: a method field reading a property whose
    answer depends on whether the relation was prefetched."""

    chapter_titles = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "chapter_titles"]

    def get_chapter_titles(self, obj):
        return [chapter.title for chapter in obj.chapters_in_order]


class OrderedAndNestedChaptersSerializer(OrderedChaptersSerializer):
    """The same relation read by a nested serializer too."""

    chapters = ChapterTitleSerializer(many=True, read_only=True)
    category_name = serializers.CharField(source="category_if_loaded", allow_null=True)
    category = serializers.StringRelatedField()

    class Meta:
        model = Book
        fields = ["id", "chapter_titles", "chapters", "category_name", "category"]


@pytest.fixture
def chapters(db):
    category = Category.objects.create(name="Essays")
    for index in range(3):
        book = Book.objects.create(title=f"B{index}", isbn=f"isbn-{index}", category=category)
        for number in (2, 1, 3):
            Chapter.objects.create(book=book, number=number, title=f"{book.title}.{number}")


def _rendered(serializer_class, queryset):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(serializer_class(queryset, many=True).data)
    return data, len(captured)


ORDERED_WARNINGS = (
    "Book.chapters_in_order calls .order_by() on chapters, a query of its own for each row "
    "that no prefetch serves; declare a Prefetch(..., to_attr=...) in @hints(...) and read "
    "that attribute instead.",
    "Book.chapters_in_order reads whether chapters is loaded (its prefetch cache), so "
    "loading it would change what the code returns: the plan leaves it unloaded. Decorate "
    "the code with @hints(...) naming what it reads to plan it as declared.",
)


def test_code_reading_whether_a_relation_is_prefetched_keeps_its_answer(chapters):
    plan = plan_for(OrderedChaptersSerializer)
    expected, plain_count = _rendered(OrderedChaptersSerializer, Book.objects.all())

    data, count = _rendered(
        OrderedChaptersSerializer, optimize(Book.objects.all(), OrderedChaptersSerializer)
    )

    assert data == expected
    assert '"chapter_titles": ["B0.1", "B0.2", "B0.3"]' in data  # the property's own query
    assert plan.relations == ()
    assert plan.warnings == tuple(
        f"OrderedChaptersSerializer.chapter_titles: {warning}" for warning in ORDERED_WARNINGS
    )
    assert count == plain_count == 1 + 3


def test_a_relation_whose_loading_code_reads_is_left_out_for_every_field(chapters):
    plan = plan_for(OrderedAndNestedChaptersSerializer)
    expected, plain_count = _rendered(OrderedAndNestedChaptersSerializer, Book.objects.all())

    data, count = _rendered(
        OrderedAndNestedChaptersSerializer,
        optimize(Book.objects.all(), OrderedAndNestedChaptersSerializer),
    )

    assert data == expected
    assert '"category_name": null' in data  # the category was not joined
    assert plan.relations == ()
    assert plan.warnings == (
        *(
            f"OrderedAndNestedChaptersSerializer.chapter_titles: {text}"
            for text in ORDERED_WARNINGS
        ),
        "OrderedAndNestedChaptersSerializer.category_name: Book.category_if_loaded reads "
        "whether category is loaded (its fields cache), so loading it would "
        "change what the code returns: the plan leaves it unloaded. Decorate the code "
        "with @hints(...) naming what it reads to plan it as declared.",
    )
    # Per book: the property's query, the nested chapters, the category.
    assert count == plain_count == 1 + 3 * 3


class AuthorsIfPrefetchedSerializer(serializers.ModelSerializer):
    names = serializers.ListField(source="authors_if_prefetched", child=serializers.CharField())
    labels = serializers.StringRelatedField(many=True)

    class Meta:
        model = Book
        fields = ["id", "names", "labels"]


def test_code_asking_whether_anything_is_prefetched_leaves_every_to_many_relation(chapters):
    plan = plan_for(AuthorsIfPrefetchedSerializer)
    expected, _ = _rendered(AuthorsIfPrefetchedSerializer, Book.objects.all())

    data, _ = _rendered(
        AuthorsIfPrefetchedSerializer, optimize(Book.objects.all(), AuthorsIfPrefetchedSerializer)
    )

    assert data == expected
    assert plan.relations == ()
    assert plan.warnings == (
        "AuthorsIfPrefetchedSerializer.names: Book.authors_if_prefetched reads which "
        "to-many relations of the object are loaded (its prefetch cache), so loading them "
        "would change what the code returns: the plan leaves them unloaded. Decorate the "
        "code with @hints(...) naming what it reads to plan it as declared.",
    )


def test_hints_on_such_code_plan_what_they_declare(chapters):
    class HintedSerializer(OrderedChaptersSerializer):
        @hints(prefetch_related=["chapters"])
        def get_chapter_titles(self, obj):
            return [chapter.title for chapter in obj.chapters.all()]

    plan = plan_for(HintedSerializer)

    assert [relation.lookup for relation in plan.relations] == ["chapters"]
    assert plan.warnings == ()


# ------------------------------------------------- getattr (Nautobot's display)


class DisplayDefaultSerializer(serializers.ModelSerializer):
    """Nautobot's ``get_display``: ``getattr(obj, "display", str(obj))``."""

    display = serializers.SerializerMethodField()

    class Meta:
        model = DeviceType
        fields = ["id", "display"]

    def get_display(self, obj):
        return getattr(obj, "display", str(obj))


def test_the_default_of_getattr_is_read_too(dcim):
    plan = plan_for(DisplayDefaultSerializer)
    expected = json.dumps(DisplayDefaultSerializer(DeviceType.objects.all(), many=True).data)

    with CaptureQueriesContext(connection) as captured:
        rows = optimize(DeviceType.objects.all(), DisplayDefaultSerializer)
        data = json.dumps(DisplayDefaultSerializer(rows, many=True).data)

    assert data == expected
    assert plan.select_related == ("manufacturer",)
    assert plan.warnings == ()
    assert len(captured) == 1


class NaturalSlugSerializer(serializers.ModelSerializer):
    """Nautobot's ``natural_slug``: attributes named at run time."""

    slug = serializers.SerializerMethodField()

    class Meta:
        model = DeviceType
        fields = ["id", "slug"]

    def get_slug(self, obj):
        value = obj
        for part in ["manufacturer", "name"]:
            value = getattr(value, part)
        return value


def test_an_attribute_named_at_run_time_is_a_warning():
    plan = plan_for(NaturalSlugSerializer)

    assert plan.relations == ()
    assert plan.warnings == (
        "NaturalSlugSerializer.slug: NaturalSlugSerializer.get_slug hands the object to "
        "getattr() with a name computed at run time, which the planner does not follow; "
        "decorate the code with @hints(...) naming what it reads.",
    )


# ------------------------------- rows in a name, narrowed on one path (pretalx)


class ChapterKeysSerializer(serializers.ModelSerializer):
    """Like pretalx's ``ScheduleSerializer.get_slots``: the rows in a name, filtered on
    one path, their keys read by a query of their own."""

    chapter_ids = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "chapter_ids"]

    def get_chapter_ids(self, obj):
        rows = obj.chapters.all()
        if self.context.get("long_only"):
            rows = rows.filter(number__gt=1)
        return list(rows.values_list("pk", flat=True))


class ChapterTitlesInANameSerializer(ChapterKeysSerializer):
    def get_chapter_ids(self, obj):
        rows = obj.chapters.all()
        if self.context.get("long_only"):
            rows = rows.filter(number__gt=1)
        return [chapter.title for chapter in rows]


def test_rows_in_a_name_read_only_by_queries_of_their_own_are_not_prefetched(chapters):
    plan = plan_for(ChapterKeysSerializer)
    expected, plain_count = _rendered(ChapterKeysSerializer, Book.objects.all())

    data, count = _rendered(
        ChapterKeysSerializer, optimize(Book.objects.all(), ChapterKeysSerializer)
    )

    assert data == expected
    assert plan.relations == ()
    assert count == plain_count == 1 + 3


def test_rows_in_a_name_read_as_rows_on_another_path_are_prefetched(chapters):
    plan = plan_for(ChapterTitlesInANameSerializer)
    expected, _ = _rendered(ChapterTitlesInANameSerializer, Book.objects.all())

    data, count = _rendered(
        ChapterTitlesInANameSerializer,
        optimize(Book.objects.all(), ChapterTitlesInANameSerializer),
    )

    assert data == expected
    assert [relation.lookup for relation in plan.relations] == ["chapters"]
    assert count == 2


class MembershipTestSerializer(serializers.ModelSerializer):
    """``in`` on the object itself (a model defining ``__contains__``, say)."""

    has_draft = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "has_draft"]

    def get_has_draft(self, obj):
        return "draft" in obj if hasattr(type(obj), "__contains__") else False


def test_a_membership_test_on_the_object_itself_is_planned_as_nothing_read():
    plan = plan_for(MembershipTestSerializer)

    assert plan.relations == ()
    assert plan.warnings == ()


def test_code_saving_the_row_is_not_followed(monkeypatch):
    """Label Studio's ``Project.get_parsed_config()`` saves the project, whose ``save()``
    counts its tasks: planning that loaded every task of every project listed."""
    from drf_autoprefetch.inference import infer
    from tests.testapp.models import Crate

    def save(self, *args, **kwargs):
        self.weight = self.items.count()

    monkeypatch.setattr(Crate, "save", save, raising=False)

    def rendered_name(crate):
        crate.save()
        return crate.name

    found = infer(Crate, rendered_name, 0, "CrateSerializer.get_name")

    assert found.paths == {}
    assert found.problems == []


class ReviewedTitleSerializer(serializers.ModelSerializer):
    """Label Studio's filter groups: declared nested rows its own ``to_representation``
    never renders; it runs a query of its own instead."""

    reviews = shapes.ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "reviews"]

    def to_representation(self, book):
        good = book.reviews.filter(rating__gte=4).order_by("id")
        return {"title": book.title, "good": [review.body for review in good]}


@pytest.mark.django_db
def test_declared_fields_a_serializer_never_renders_are_not_planned(world):
    plan = plan_for(ReviewedTitleSerializer)

    assert plan.relations == ()
    expected = ReviewedTitleSerializer(list(Book.objects.all()), many=True).data
    with CaptureQueriesContext(connection) as captured:
        data = ReviewedTitleSerializer(
            optimize(Book.objects.all(), ReviewedTitleSerializer), many=True
        ).data
    assert data == expected
    assert len(captured) == 1 + Book.objects.count()  # as without the library


def test_a_serializer_rendering_through_its_fields_keeps_them_planned():
    class Through(ReviewedTitleSerializer):
        def to_representation(self, book):
            data = super().to_representation(book)
            return {**data, "shown": True}

    assert [relation.attr for relation in plan_for(Through).relations] == ["reviews"]


class CrateCountsSerializer(serializers.ModelSerializer):
    seals = serializers.SerializerMethodField()
    stickers = serializers.SerializerMethodField()

    class Meta:
        from tests.testapp.models import Crate

        model = Crate
        fields = ["id", "seals", "stickers"]

    def get_seals(self, crate):
        return crate.seals.count()

    def get_stickers(self, crate):
        return crate.stickers.exists()


def test_counting_rows_whose_building_reads_a_relation_stays_a_count():
    """Modoboa's domains count their mailboxes, each of which reads its domain as it is
    built: prefetched, every mailbox cost a query where the count cost one per domain.
    Rows whose building reads only columns (stickers) are still prefetched."""
    plan = plan_for(CrateCountsSerializer)

    assert [relation.attr for relation in plan.relations] == ["stickers"]


@pytest.mark.django_db
def test_a_count_of_costly_rows_runs_the_queries_it_runs_without_a_plan():
    from tests.testapp.models import Crate, Seal, Sticker

    for number in range(3):
        crate = Crate.objects.create(name=f"Crate {number}")
        for code in "abc":
            Seal.objects.create(crate=crate, code=code)
            Sticker.objects.create(crate=crate, text=code)
    with CaptureQueriesContext(connection) as plain:
        expected = CrateCountsSerializer(Crate.objects.all(), many=True).data

    with CaptureQueriesContext(connection) as captured:
        data = CrateCountsSerializer(
            optimize(Crate.objects.all(), CrateCountsSerializer), many=True
        ).data

    assert data == expected
    assert len(captured) == 1 + 3 + 1 < len(plain)  # crates, their seals' counts, stickers


def test_private_names_are_read_as_python_mangles_them():
    from drf_autoprefetch.inference.reading import read_function

    class Holder:
        def name(self):
            return self.__secret.title + self.__dunder__

    reading = read_function(Holder.name, 0)

    assert [access.path for access in reading.accesses] == [
        ("_Holder__secret", "title"),
        ("__dunder__",),
    ]


class HeldBookSerializer(serializers.ModelSerializer):
    """Oscar's basket lines: the fields render the object the context holds for the row
    (the line as the basket's offers priced it), not the row given."""

    reviews = shapes.ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "reviews"]

    def to_representation(self, book):
        held = next(each for each in self.context["held"] if each.pk == book.pk)
        return super(HeldBookSerializer, self).to_representation(held)  # noqa: UP008 (Oscar's)


@pytest.mark.django_db
def test_declared_fields_rendering_another_object_than_the_row_are_not_planned(world):
    plan = plan_for(HeldBookSerializer)

    assert plan.relations == ()
    held = list(Book.objects.prefetch_related("reviews__reviewer__address__city__country"))
    expected = HeldBookSerializer(list(Book.objects.all()), many=True, context={"held": held})
    with CaptureQueriesContext(connection) as captured:
        optimized = optimize(Book.objects.all(), HeldBookSerializer, context={"held": held})
        data = HeldBookSerializer(optimized, many=True, context={"held": held}).data
    assert data == expected.data
    assert len(captured) == 1  # the books; the reviews rendered are those held
