"""``make bench`` runs end to end: a tiny matrix on SQLite, in a subprocess.

No timing is asserted: only that the run completes, that every optimized response is
byte-identical to the unoptimized one, and that drf_autoprefetch runs exactly the
queries of the hand-written plan.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("orders", "books", "authors", "rooms", "deep", "wide")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--sizes=2",
        "--databases=sqlite",
        "--strategies=unoptimized,hand,autoprefetch",
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
    for strategy in ("unoptimized", "hand", "autoprefetch"):
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
    mine = _cells(results, "autoprefetch")
    unoptimized = _cells(results, "unoptimized")
    for scenario in SCENARIOS:
        assert mine[scenario]["queries"] == hand[scenario]["queries"], scenario
        assert mine[scenario]["queries"] <= unoptimized[scenario]["queries"], scenario
