"""Queries within the databases' limits: a plan never makes one query read more columns
or join more tables than a database takes (NetBox-like ``?depth=2`` trees)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from drf_autoprefetch import optimize, plan_for, widths
from drf_autoprefetch.explain import explain
from drf_autoprefetch.planner import clear_cache
from drf_autoprefetch.tree import Kind
from tests.testapp.models import Dashboard, Gauge

pytestmark = pytest.mark.django_db

GAUGES = [f"gauge_{n:02d}" for n in range(62)]


class DashboardSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dashboard
        fields = "__all__"
        depth = 1


@pytest.fixture
def dashboards(db):
    gauges = [Gauge.objects.create(reading_00=f"g{n}") for n in range(5)]
    for index in range(3):
        Dashboard.objects.create(
            name=f"d{index}",
            **{name: gauges[(index + n) % len(gauges)] for n, name in enumerate(GAUGES)},
        )


def _rendered(queryset):
    with CaptureQueriesContext(connection) as captured:
        data = json.dumps(DashboardSerializer(queryset, many=True).data)
    return data, len(captured)


def test_joins_past_the_column_limit_load_by_queries_of_their_own(dashboards):
    plan = plan_for(DashboardSerializer)
    expected, unoptimized = _rendered(Dashboard.objects.all())

    data, count = _rendered(optimize(Dashboard.objects.all(), DashboardSerializer))

    assert data == expected
    # 64 columns of the dashboard and 22 gauges of 41 columns: 966, under 1,000.
    joined = [relation.attr for relation in plan.relations if relation.kind is Kind.JOIN]
    apart = [relation.attr for relation in plan.relations if relation.wide]
    assert joined == GAUGES[:22]
    assert apart == GAUGES[22:]
    assert all(relation.kind is Kind.PREFETCH_ONE for relation in plan.relations if relation.wide)
    assert count == plan.query_count == 1 + 40
    assert unoptimized == 1 + 3 * 62


def test_joins_past_the_table_limit_load_by_queries_of_their_own(dashboards, monkeypatch):
    monkeypatch.setattr(widths, "MAX_COLUMNS", 100_000)
    clear_cache()
    plan = plan_for(DashboardSerializer)
    expected, _ = _rendered(Dashboard.objects.all())

    data, count = _rendered(optimize(Dashboard.objects.all(), DashboardSerializer))

    assert data == expected
    joined = [relation.attr for relation in plan.relations if relation.kind is Kind.JOIN]
    assert joined == GAUGES[:39]  # 40 tables with the dashboard's own
    assert count == 1 + 23
    clear_cache()


def test_a_narrow_tree_joins_everything():
    class NarrowSerializer(serializers.ModelSerializer):
        class Meta:
            model = Dashboard
            fields = ["id", "name", *GAUGES[:20]]
            depth = 1

    plan = plan_for(NarrowSerializer)

    assert all(relation.kind is Kind.JOIN for relation in plan.relations)
    assert not any(relation.wide for relation in plan.relations)


def test_explain_and_the_printed_plan_say_why():
    plan = plan_for(DashboardSerializer)

    assert "  prefetch-one gauge_61 (testapp.Gauge) [wide query]" in str(plan).splitlines()
    assert (
        "  prefetch-one gauge_61 (testapp.Gauge) [wide query]: a query of its own: joining it "
        "would make its parent's query read more than 1,000 columns or join more than 40 "
        "tables, past what databases take"
    ) in explain(plan)
    assert plan.as_dict()["relations"][-1]["wide"] is True
    assert "wide" not in plan.as_dict()["relations"][0]
