"""``make bench`` runs end to end: a tiny matrix on SQLite, in a subprocess.

No timing is asserted: only that the run completes, that every optimized response is
byte-identical to the unoptimized one, and that drf_autoprefetch runs exactly the
queries of the hand-written plan (with ``SPLIT`` auto too: SQLite without statistics
gives the cost model no table sizes). The report's goals and the fan-in section are
checked on results made up for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import (
    Results,
    _fan_in_section,
    _fan_in_sections,
    goals,
    split_queries,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("orders", "books", "authors", "rooms", "deep", "wide")
STRATEGIES = ("unoptimized", "hand", "autoprefetch", "autoprefetch_auto")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--sizes=2",
        "--databases=sqlite",
        f"--strategies={','.join(STRATEGIES)}",
        "--budget=0",
        "--min-runs=1",
        "--no-micro",
        "--no-plots",
        f"--output-dir={out}",
        f"--work-dir={out / 'work'}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "report.md").is_file()
    return json.loads((out / "results.json").read_text())


def _cells(results: dict, strategy: str) -> dict[str, dict]:
    return {c["scenario"]: c for c in results["cells"] if c["strategy"] == strategy}


def test_bench_measures_every_scenario_with_every_strategy(results):
    for strategy in STRATEGIES:
        cells = _cells(results, strategy)
        assert sorted(cells) == sorted(SCENARIOS)
        for cell in cells.values():
            assert cell["error"] is None, cell
            assert cell["results"] == 2
            assert cell["median_ms"] is not None
            assert cell["peak_bytes"] > 0


def test_bench_responses_are_identical_to_the_unoptimized_ones(results):
    for cell in results["cells"]:
        assert cell["identical"] is True, cell
        assert cell["compared_with"] == "unoptimized"


def test_bench_autoprefetch_runs_the_queries_of_the_hand_written_plan(results):
    hand = _cells(results, "hand")
    unoptimized = _cells(results, "unoptimized")
    for strategy in ("autoprefetch", "autoprefetch_auto"):
        mine = _cells(results, strategy)
        for scenario in SCENARIOS:
            assert mine[scenario]["queries"] == hand[scenario]["queries"], (strategy, scenario)
            assert mine[scenario]["queries"] <= unoptimized[scenario]["queries"], scenario


# --------------------------------------------------------------------------- the report


def _cell(database: str, strategy: str, rows: int, queries: int, ms: float) -> dict[str, Any]:
    return {
        "leg": "main",
        "database": database,
        "scenario": "deep",
        "strategy": strategy,
        "rows": rows,
        "queries": queries,
        "median_ms": ms,
        "min_ms": ms,
        "runs": 5,
        "peak_bytes": 1000,
        "digest": "same",
    }


def _made_up(auto: dict[tuple[str, int], tuple[int, float]]) -> Results:
    """Results of the deep scenario on PostgreSQL: the hand plan runs 5 queries in 100
    ms, drf_autoprefetch too; SPLIT auto as ``auto`` says per (database, rows)."""
    databases = ["postgresql", "postgresql-rtt"]
    cells = []
    for database in databases:
        for rows in (100, 1000):
            cells.append(_cell(database, "hand", rows, 5, 100.0))
            cells.append(_cell(database, "autoprefetch", rows, 5, 100.0))
            queries, ms = auto.get((database, rows), (5, 100.0))
            cells.append(_cell(database, "autoprefetch_auto", rows, queries, ms))
    return Results(
        {
            "options": {
                "sizes": [100, 1000],
                "databases": databases,
                "scenarios": ["deep"],
                "strategies": ["hand", "autoprefetch", "autoprefetch_auto"],
            },
            "legs": {"main": {"strategies": ["hand", "autoprefetch", "autoprefetch_auto"]}},
            "cells": cells,
        }
    )


def _goal(results: Results, start: str) -> Any:
    return next(goal for goal in goals(results) if goal.text.startswith(start))


def test_report_split_goal_is_met_where_every_split_is_5_percent_faster():
    results = _made_up({("postgresql", 1000): (6, 90.0), ("postgresql-rtt", 1000): (6, 94.0)})
    goal = _goal(results, "SPLIT auto at 1,000 rows")
    assert goal.status == "met"
    assert "postgresql deep 1000: x0.900" in goal.detail
    assert _goal(results, "SPLIT auto never above").status == "met"
    assert _goal(results, "Queries equal").status == "met"  # drf_autoprefetch's goal
    sentence = split_queries(results)
    assert "in 2 of 4 cells" in sentence
    assert "postgresql-rtt deep 1000 (6 vs 5)" in sentence


def test_report_split_goal_is_missed_where_a_split_saves_less():
    results = _made_up({("postgresql", 1000): (6, 97.0), ("postgresql-rtt", 100): (5, 108.0)})
    split = _goal(results, "SPLIT auto at 1,000 rows")
    assert split.status == "missed"
    assert split.detail.startswith("1 of 1 cells: postgresql deep 1000: x0.970")
    bound = _goal(results, "SPLIT auto never above")
    assert bound.status == "missed"
    assert bound.detail == "1 of 4 cells: postgresql-rtt deep 100: x1.080 (min x1.08)"


def test_report_split_goal_is_missed_when_no_cell_split():
    results = _made_up({})
    goal = _goal(results, "SPLIT auto at 1,000 rows")
    assert (goal.status, goal.detail) == ("missed", "no cell split")
    assert "in none of 4 cells" in split_queries(results)


def _fan_in(lines: int, fan_in: float, join_ms: float, split_ms: float, auto: str) -> dict:
    return {
        "lines": lines,
        "fan_in": fan_in,
        "round_trip": False,
        "join_ms": join_ms,
        "split_ms": split_ms,
        "ratio": split_ms / join_ms,
        "auto": auto,
    }


def test_report_marks_the_cost_models_choice_in_the_fan_in_table():
    section = "\n".join(
        _fan_in_section(
            [
                _fan_in(10, 0.5, 1.0, 1.3, "join"),
                _fan_in(1000, 0.01, 10.0, 9.3, "split"),
                _fan_in(1000, 0.5, 10.0, 9.0, "join"),  # the join was the slower choice
            ]
        )
    )
    assert "| 10 | none | x1.30 join | - |" in section
    assert (
        "splitting was at least 5% faster in 2 of 3 cells: 1,000 lines at fan-in 0.5 (x0.90); "
        "1,000 lines at fan-in 0.01 (x0.93)."
    ) in section
    assert "| 1,000 | none | x0.90 join | x0.93 split |" in section
    assert "chose the faster option, or one within 5% of it, in 2 of 3 cells" in section
    assert (
        "not in: 1,000 lines, fan-in 0.5, no round trip (chose join: x1.11 the time of split)"
        in section
    )


def test_report_has_a_fan_in_table_per_database_swept():
    cells = [_fan_in(1000, 0.01, 10.0, 9.3, "split")]
    results = Results(
        {
            "cells": [],
            "options": {"sizes": [10], "databases": ["sqlite"], "scenarios": []},
            "legs": {},
            "fan_in": {"sqlite": cells, "postgresql": cells},
        }
    )

    text = "\n".join(_fan_in_sections(results))

    assert "split time / join time on SQLite (below 1" in text
    assert "split time / join time on PostgreSQL (loopback) (below 1" in text
    assert text.count("| 1,000 | none | x0.93 split |") == 2


def test_fan_in_cost_model_choice(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from benchmarks.benchapp.models import Basket, Line, Product\n"
        "from benchmarks.fanin import _serializers, cost_model_choice\n"
        "joined, _ = _serializers()\n"
        "for lines, products in ((1000, 10), (1000, 500), (100, 1)):\n"
        "    tables = {Basket: lines // 10, Line: lines, Product: products}\n"
        "    print(cost_model_choice(joined, tables))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "BENCH_DB_ENGINE": "sqlite",
        "BENCH_DB_NAME": str(tmp_path / "unused.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["split", "join", "join"]


def _fan_in_results(cells):
    return Results(
        {
            "cells": [],
            "options": {"sizes": [10], "databases": ["postgresql"], "scenarios": []},
            "legs": {},
            "fan_in": {"postgresql": cells},
        }
    )


def test_the_fan_in_goal_times_the_splits_the_cost_model_chose_on_postgresql():
    from benchmarks.report import _fan_in_goal

    met = _fan_in_goal(
        _fan_in_results(
            [
                _fan_in(1000, 0.01, 10.0, 9.0, "split"),
                _fan_in(1000, 0.5, 10.0, 14.0, "join"),  # not chosen: not judged
                _fan_in(100, 0.01, 1.0, 0.5, "split"),  # under 1,000 lines: not judged
            ]
        )
    )
    missed = _fan_in_goal(_fan_in_results([_fan_in(4000, 0.02, 10.0, 9.8, "split")]))
    none = _fan_in_goal(_fan_in_results([_fan_in(4000, 0.5, 10.0, 14.0, "join")]))

    assert (met.status, met.detail) == ("met", "1 cells checked: x0.90")
    assert (missed.status, missed.detail) == (
        "missed",
        "1 of 1 cells: 4,000 lines, fan-in 0.02, no round trip: x0.98",
    )
    assert (none.status, none.detail) == ("missed", "no cell split")
