"""Turn merged results into ``results.json``, ``report.md`` and one PNG per database."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.legs import LABELS, MAIN

__all__ = ["Results", "check", "goals", "write_outputs"]

DATABASE_TITLES = {
    "sqlite": "SQLite",
    "postgresql": "PostgreSQL on loopback",
    "postgresql-rtt": "PostgreSQL with a simulated round trip",
}
#: The databases the fan-in sweep runs on, as the report names them.
DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL (loopback)"}
SCENARIO_TITLES = {
    "orders": "orders with customer, items and each item's program",
    "books": "books with publisher, authors with profile, and reviews",
    "authors": "authors with profile and books with publisher",
    "rooms": "chat rooms with owner, participants and messages with author",
    "deep": "deep tree: companies > divisions > teams > members > city",
    "wide": "wide table: 20 columns, a 4 KB text, 3 columns read",
}
PEERS = ("fetch_peers", "auto_prefetching", "serializer_prefetch", "fastdrf")
TOLERANCE = 0.05
OPTIMIZE_LIMIT_US = 10.0
COLD_PLAN_LIMIT_US = 5000.0
#: Warm ``get_queryset()`` overhead over DRF's, static and dynamic serializers.
STATIC_OVERHEAD_LIMIT_US = 30.0
DYNAMIC_OVERHEAD_LIMIT_US = 60.0
#: SPLIT auto: the rows at which a split must pay, and by how much.
SPLIT_ROWS = 1000
SPLIT_SPEED_UP = 0.95
#: The fan-in sweep: a choice within this of the faster option counts as a good one.
FAN_IN_TOLERANCE = 0.05

Key = tuple[str, str, str, str, int]


class Results:
    """Merged results with lookups by leg, database, scenario, strategy and rows."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.cells: dict[Key, dict[str, Any]] = {}
        for cell in data["cells"]:
            key = (cell["leg"], cell["database"], cell["scenario"], cell["strategy"], cell["rows"])
            self.cells[key] = cell
        self.sizes: list[int] = data["options"]["sizes"]
        self.databases = [d for d in DATABASE_TITLES if d in data["options"]["databases"]]
        self.scenarios: list[str] = data["options"]["scenarios"]
        self._mark_identity()

    def get(self, leg: str, database: str, scenario: str, strategy: str, rows: int) -> Any:
        return self.cells.get((leg, database, scenario, strategy, rows))

    def measured(self, *key: Any) -> dict[str, Any] | None:
        cell = self.get(*key)
        return cell if cell and cell.get("median_ms") is not None else None

    @property
    def legs(self) -> list[str]:
        return list(self.data["legs"])

    def leg_of(self, strategy: str) -> str | None:
        for name, leg in self.data["legs"].items():
            if strategy in leg["strategies"] and (name == "main" or strategy not in BASELINES):
                return name
        return None

    def reference(self, database: str, scenario: str, rows: int) -> tuple[str | None, str]:
        """The digest every response is compared with, and what it is the digest of."""
        for leg, strategy, what in (
            ("main", "unoptimized", "unoptimized"),
            ("main", "hand", "hand-written plan"),
            *((leg, "hand", "hand-written plan") for leg in self.legs),
        ):
            cell = self.get(leg, database, scenario, strategy, rows)
            if cell and cell.get("digest"):
                return cell["digest"], what
        return None, ""

    def _mark_identity(self) -> None:
        for (_, database, scenario, _, rows), cell in self.cells.items():
            digest, what = self.reference(database, scenario, rows)
            if cell.get("digest") and digest:
                cell["identical"] = cell["digest"] == digest
                cell["compared_with"] = what

    def environment(self, leg: str) -> str:
        env = self.data["legs"].get(leg, {}).get("environment")
        if not env:
            return "?"
        python = ".".join(env["python"].split(".")[:2])
        django = ".".join(env["django"].split(".")[:2])
        return f"{python} / {django}"


BASELINES = ("hand", "autoprefetch")


# --------------------------------------------------------------------------- goals


@dataclass
class Goal:
    text: str
    status: str  # met | missed | not measured
    detail: str


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _goal(text: str, misses: list[str], checked: int, extra: str = "") -> Goal:
    if not checked:
        return Goal(text, "not measured", extra or "no cell to check")
    if misses:
        shown = "; ".join(misses[:8]) + (f"; and {len(misses) - 8} more" if len(misses) > 8 else "")
        return Goal(text, "missed", f"{len(misses)} of {checked} cells: {shown}")
    return Goal(text, "met", f"{checked} cells checked{extra}")


def _pairs(
    results: Results,
    strategy: str,
    legs: Iterable[str],
    databases: Iterable[str],
    own: str = "autoprefetch",
) -> Iterable[tuple[tuple[str, str, str, int], dict[str, Any], dict[str, Any]]]:
    """(where, ``own`` cell, ``strategy`` cell) measured side by side; ``own`` is
    drf_autoprefetch unless said otherwise."""
    for leg in legs:
        for database in databases:
            for scenario in results.scenarios:
                for rows in results.sizes:
                    mine = results.get(leg, database, scenario, own, rows)
                    other = results.get(leg, database, scenario, strategy, rows)
                    if mine and other and mine.get("queries") is not None:
                        yield (leg, database, scenario, rows), mine, other


def _where(where: tuple[str, str, str, int]) -> str:
    leg, database, scenario, rows = where
    prefix = "" if leg == "main" else f"{leg} "
    return f"{prefix}{database} {scenario} {rows}"


def _queries_goal(results: Results) -> Goal:
    misses, checked = [], 0
    counts: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for where, mine, hand in _pairs(results, "hand", results.legs, results.databases):
        if hand.get("queries") is None:
            continue
        checked += 1
        counts[where[:3]].add(mine["queries"])
        if mine["queries"] != hand["queries"]:
            misses.append(f"{_where(where)}: {mine['queries']} vs {hand['queries']}")
    for (leg, database, scenario), found in counts.items():
        if len(found) > 1:
            misses.append(f"{leg} {database} {scenario}: counts {sorted(found)} vary with rows")
    return _goal(
        "Queries equal to the hand-written plan in every cell, constant in rows", misses, checked
    )


def _postgresql(results: Results) -> list[str]:
    return [d for d in results.databases if d.startswith("postgresql")]


def _slower_than_hand(results: Results, own: str) -> tuple[list[str], int]:
    """Cells of the main leg at 100 rows or more on PostgreSQL where ``own`` took more
    than 5% longer than the hand-written plan (median), and how many were checked."""
    misses, checked = [], 0
    for where, mine, hand in _pairs(results, "hand", ["main"], _postgresql(results), own):
        ratio = _ratio(mine.get("median_ms"), hand.get("median_ms"))
        if where[3] < 100 or ratio is None:
            continue
        checked += 1
        if ratio > 1 + TOLERANCE:
            least = _ratio(mine.get("min_ms"), hand.get("min_ms"))
            split = " (split)" if _split(mine, hand) else ""
            misses.append(f"{_where(where)}: x{ratio:.3f} (min x{_x(least)}){split}")
    return misses, checked


def _split(auto: dict[str, Any], hand: dict[str, Any]) -> bool:
    """Whether SPLIT auto loaded a relation apart: it ran more queries than the hand plan."""
    queries, hand_queries = auto.get("queries"), hand.get("queries")
    return queries is not None and hand_queries is not None and queries > hand_queries


def _time_goal(results: Results) -> Goal:
    return _goal(
        "Median time at 100 rows or more on PostgreSQL within 5% of the hand-written plan",
        *_slower_than_hand(results, "autoprefetch"),
    )


SPLIT_TIME_TEXT = (
    f"SPLIT auto at {SPLIT_ROWS:,} rows on PostgreSQL where the cost model split a relation: "
    f"median time at most {SPLIT_SPEED_UP}x the hand-written plan"
)


def _split_time_goal(results: Results) -> Goal:
    pairs = [
        (where, auto, hand)
        for where, auto, hand in _pairs(
            results, "hand", ["main"], _postgresql(results), "autoprefetch_auto"
        )
        if where[3] == SPLIT_ROWS and hand.get("queries") is not None
    ]
    if not pairs:
        return Goal(
            SPLIT_TIME_TEXT,
            "not measured",
            f"no cell of SPLIT auto at {SPLIT_ROWS:,} rows on PostgreSQL",
        )
    misses, shown = [], []
    for where, auto, hand in pairs:
        ratio = _ratio(auto.get("median_ms"), hand.get("median_ms"))
        if not _split(auto, hand) or ratio is None:
            continue
        shown.append(f"{_where(where)}: x{ratio:.3f}")
        if ratio > SPLIT_SPEED_UP:
            least = _ratio(auto.get("min_ms"), hand.get("min_ms"))
            misses.append(f"{shown[-1]} (min x{_x(least)})")
    if not shown:
        return Goal(SPLIT_TIME_TEXT, "missed", "no cell split")
    return _goal(SPLIT_TIME_TEXT, misses, len(shown), ": " + "; ".join(shown))


FAN_IN_GOAL_TEXT = (
    f"Fan-in sweep on PostgreSQL, {SPLIT_ROWS:,} lines or more, where the cost model "
    f"splits: time at most {SPLIT_SPEED_UP}x the join's (the hand-written plan's)"
)


def _fan_in_goal(results: Results) -> Goal:
    cells = (results.data.get("fan_in") or {}).get("postgresql")
    if not cells:
        return Goal(FAN_IN_GOAL_TEXT, "not measured", "the sweep did not run on PostgreSQL")
    chosen = [c for c in cells if c["lines"] >= SPLIT_ROWS and c.get("auto") == "split"]
    if not chosen:
        return Goal(FAN_IN_GOAL_TEXT, "missed", "no cell split")
    misses = [
        f"{c['lines']:,} lines, fan-in {c['fan_in']:g}, "
        f"{'0.5 ms' if c['round_trip'] else 'no'} round trip: x{c['ratio']:.2f}"
        for c in chosen
        if c["ratio"] > SPLIT_SPEED_UP
    ]
    ratios = ", ".join(f"x{c['ratio']:.2f}" for c in chosen)
    return _goal(FAN_IN_GOAL_TEXT, misses, len(chosen), f": {ratios}")


def _split_bound_goal(results: Results) -> Goal:
    return _goal(
        "SPLIT auto never above 1.05x the hand-written plan at 100 rows or more on PostgreSQL",
        *_slower_than_hand(results, "autoprefetch_auto"),
    )


def split_queries(results: Results) -> str:
    """Where SPLIT auto ran more queries than the hand-written plan, as a sentence."""
    checked, more = 0, []
    for where, auto, hand in _pairs(
        results, "hand", ["main"], results.databases, "autoprefetch_auto"
    ):
        if hand.get("queries") is None:
            continue
        checked += 1
        if _split(auto, hand):
            more.append(f"{_where(where)} ({auto['queries']} vs {hand['queries']})")
    if not checked:
        return ""
    text = (
        "The query goal is drf_autoprefetch's. SPLIT auto ran more queries than the "
        "hand-written plan"
    )
    if not more:
        return f"{text} in none of {checked} cells: the cost model split no relation."
    return (
        f"{text} in {len(more)} of {checked} cells, one more query per relation the cost "
        f"model loaded apart: {'; '.join(more)}."
    )


def _memory_goal(results: Results) -> Goal:
    misses, checked = [], 0
    for where, mine, hand in _pairs(results, "hand", ["main"], results.databases):
        ratio = _ratio(mine.get("peak_bytes"), hand.get("peak_bytes"))
        if ratio is None:
            continue
        checked += 1
        if ratio > 1 + TOLERANCE:
            misses.append(f"{_where(where)}: x{ratio:.2f}")
    return _goal("Peak memory within 5% of the hand-written plan", misses, checked)


def _micro_goals(results: Results) -> list[Goal]:
    micro = results.data.get("micro")
    optimize_text = f"Warm `optimize()` under {OPTIMIZE_LIMIT_US:.0f} µs"
    cold_text = "Cold plan under 5 ms for the deepest serializer"
    if not micro:
        return [Goal(optimize_text, "not measured", ""), Goal(cold_text, "not measured", "")]
    entries = micro["serializers"]
    slowest = max(entries, key=lambda name: entries[name]["optimize"]["median_us"])
    slow_us = entries[slowest]["optimize"]["median_us"]
    optimize = Goal(
        optimize_text,
        "met" if slow_us < OPTIMIZE_LIMIT_US else "missed",
        f"slowest: {slowest} at {slow_us:.1f} µs (median)",
    )
    deepest = entries.get(micro["deepest"])
    if deepest is None:
        return [optimize, Goal(cold_text, "not measured", "")]
    cold_us = deepest["cold_plan"]["median_us"]
    cold = Goal(
        cold_text,
        "met" if cold_us < COLD_PLAN_LIMIT_US else "missed",
        f"{deepest['serializer']}: {cold_us / 1000:.2f} ms (median)",
    )
    return [optimize, cold]


def _overhead(entry: dict[str, Any]) -> float:
    return float(entry["mixin_get_queryset"]["median_us"] - entry["drf_get_queryset"]["median_us"])


def _dynamic_goals(results: Results) -> list[Goal]:
    micro = results.data.get("micro")
    static_text = f"Warm `get_queryset()` overhead under {STATIC_OVERHEAD_LIMIT_US:.0f} µs (static)"
    dynamic_text = (
        f"Warm `get_queryset()` overhead under {DYNAMIC_OVERHEAD_LIMIT_US:.0f} µs "
        "(fields per request)"
    )
    queries_text = "Fields per request: no planning query, the hand plan's query count"
    if not micro or "dynamic" not in micro:
        return [
            Goal(text, "not measured", "") for text in (static_text, dynamic_text, queries_text)
        ]
    found = []
    for text, entries, limit in (
        (static_text, micro["serializers"], STATIC_OVERHEAD_LIMIT_US),
        (dynamic_text, micro["dynamic"], DYNAMIC_OVERHEAD_LIMIT_US),
    ):
        worst = max(entries, key=lambda name: _overhead(entries[name]))
        misses = [
            f"{name}: {_overhead(entry):.1f} µs"
            for name, entry in entries.items()
            if _overhead(entry) >= limit
        ]
        found.append(
            _goal(
                text, misses, len(entries), f"; most: {worst} at {_overhead(entries[worst]):.1f} µs"
            )
        )
    dynamic = micro["dynamic"]
    misses = [
        f"{name}: {entry['planning_queries']} planning, "
        f"{entry['queries']} vs {entry['hand_queries']}"
        for name, entry in dynamic.items()
        if entry["planning_queries"] or entry["queries"] != entry["hand_queries"]
    ]
    found.append(_goal(queries_text, misses, len(dynamic)))
    return found


def _peer_goals(results: Results) -> list[Goal]:
    query_misses, time_misses, failures = [], [], []
    query_checked = time_checked = 0
    for peer in PEERS:
        leg = results.leg_of(peer)
        if leg is None:
            continue
        for where, mine, other in _pairs(results, peer, [leg], results.databases):
            label = f"{LABELS[peer]} {_where(where)}"
            if other.get("error") or other.get("queries") is None:
                failures.append(label)
                continue
            query_checked += 1
            if mine["queries"] > other["queries"]:
                query_misses.append(f"{label}: {mine['queries']} vs {other['queries']}")
            if where[1] != "postgresql-rtt":
                continue
            ratio = _ratio(mine.get("median_ms"), other.get("median_ms"))
            if ratio is None:
                continue
            time_checked += 1
            if ratio >= 1:
                same = " (same queries)" if mine["queries"] == other["queries"] else ""
                time_misses.append(f"{label}: x{ratio:.3f}{same}")
    note = f"; {len(failures)} cells where the peer failed are not counted" if failures else ""
    return [
        _goal(
            "Fewer or equal queries than every peer and FETCH_PEERS in every cell",
            query_misses,
            query_checked,
            note,
        ),
        _goal(
            "Lower median time than every peer and FETCH_PEERS with the simulated round trip",
            time_misses,
            time_checked,
            note,
        ),
    ]


def _peer_wins(results: Results) -> list[str]:
    """Cells with the round trip where a peer clearly beats drf_autoprefetch and the plan.

    Clearly: by more than 10%, in median and in minimum time.
    """
    wins = []
    for peer in PEERS:
        leg = results.leg_of(peer)
        if leg is None:
            continue
        for where, mine, other in _pairs(results, peer, [leg], ["postgresql-rtt"]):
            hand = results.get(*where[:3], "hand", where[3]) or {}
            ratios = [
                _ratio(other.get(measure), best)
                for measure in ("median_ms", "min_ms")
                for best in (mine.get(measure), hand.get(measure))
            ]
            if all(ratio is not None and ratio < 0.9 for ratio in ratios):
                ratio = _ratio(other["median_ms"], hand["median_ms"])
                wins.append(f"{LABELS[peer]} on {where[2]} at {where[3]:,} rows (x{ratio:.2f})")
    return wins


def goals(results: Results) -> list[Goal]:
    return [
        _queries_goal(results),
        _time_goal(results),
        _split_time_goal(results),
        _split_bound_goal(results),
        _fan_in_goal(results),
        *_micro_goals(results),
        *_dynamic_goals(results),
        _memory_goal(results),
        *_peer_goals(results),
    ]


def check(data: dict[str, Any]) -> list[str]:
    """What makes a run fail: the main leg broke, or an optimized response differs."""
    results = Results(data)
    problems = []
    for (leg, database, scenario, strategy, rows), cell in results.cells.items():
        where = f"{leg} {database} {scenario} {strategy} {rows}"
        if strategy in BASELINES or leg == "main":
            if cell.get("error"):
                problems.append(f"{where}: {cell['error']}")
            elif cell.get("identical") is False:
                problems.append(f"{where}: the JSON differs from the {cell['compared_with']}")
    return problems


# --------------------------------------------------------------------------- formatting


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024 / 1024:.2f}"


def _same(cell: dict[str, Any]) -> str:
    if cell.get("identical") is None:
        return "-"
    if not cell["identical"]:
        return "**differs**"
    return "yes" if cell["compared_with"] == "unoptimized" else "yes (vs hand)"


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _row_labels(results: Results) -> list[tuple[str, str]]:
    """(leg, strategy) rows of a detail table: the main leg, then each peer."""
    rows = [("main", s) for s in MAIN]
    for leg in results.legs:
        if leg == "main":
            continue
        rows += [(leg, s) for s in results.data["legs"][leg]["strategies"] if s not in BASELINES]
    return [row for row in rows if row[1] in results.data["options"]["strategies"]]


def _detail_rows(results: Results, database: str, scenario: str) -> list[list[str]]:
    lines = []
    for leg, strategy in _row_labels(results):
        for rows in results.sizes:
            cell = results.get(leg, database, scenario, strategy, rows)
            if cell is None:
                continue
            label = LABELS[strategy]
            if cell.get("error") or cell.get("skipped"):
                reason = cell.get("error") or f"skipped: {cell['skipped']}"
                reason = reason.replace("|", "/")
                lines.append([label, results.environment(leg), f"{rows:,}", reason, *["-"] * 8])
                continue
            hand = results.get(leg, database, scenario, "hand", rows) or {}
            mine = results.get(leg, database, scenario, "autoprefetch", rows) or {}
            lines.append(
                [
                    label,
                    results.environment(leg),
                    f"{rows:,}",
                    str(cell["queries"]),
                    _ms(cell.get("median_ms")),
                    _ms(cell.get("min_ms")),
                    "1 (warm-up)" if cell.get("warm_up_timed") else str(cell.get("runs", "")),
                    _x(_ratio(cell.get("median_ms"), hand.get("median_ms"))),
                    _x(_ratio(cell.get("median_ms"), mine.get("median_ms"))),
                    _mib(cell.get("peak_bytes")),
                    _x(_ratio(cell.get("peak_bytes"), hand.get("peak_bytes"))),
                    _same(cell),
                ]
            )
    return lines


DETAIL_HEADER = [
    "strategy",
    "Python / Django",
    "rows",
    "queries",
    "median ms",
    "min ms",
    "runs",
    "time / hand",
    "time / drf_autoprefetch",
    "peak MiB",
    "memory / hand",
    "same JSON",
]


def _headline(results: Results) -> list[str]:
    database = next(
        (d for d in ("postgresql-rtt", "postgresql", "sqlite") if d in results.databases), None
    )
    if database is None:
        return []
    rows = max(results.sizes)
    labels = _row_labels(results)
    queries = []
    times = []
    for scenario in results.scenarios:
        queries.append(
            [scenario, *(_queries(results, database, scenario, key, rows) for key in labels)]
        )
        times.append(
            [scenario, *(_relative(results, database, scenario, key, rows) for key in labels)]
        )
    header = ["scenario", *[LABELS[s] for _, s in labels]]
    align = "l" + "r" * len(labels)
    own = sum(1 for leg, _ in labels if leg == "main")
    return [
        f"Queries of one request for {rows:,} root rows:",
        "",
        *_table(header, queries, align),
        "",
        f"Median time of that request, {DATABASE_TITLES[database]}. The project's own "
        f"environment gives milliseconds for {_first(own)}; every other column is "
        "the strategy's time divided by drf_autoprefetch's, both measured in the same process "
        "(Python 3.13, Django 6.1), so above 1 means slower than drf_autoprefetch.",
        "",
        *_table(header, times, align),
    ]


def _first(columns: int) -> str:
    words = ("no", "one", "two", "three", "four", "five", "six")
    if columns == 1:
        return "the first column"
    return f"the first {words[columns] if columns < len(words) else columns} columns"


def _queries(
    results: Results, database: str, scenario: str, key: tuple[str, str], rows: int
) -> str:
    cell = results.get(key[0], database, scenario, key[1], rows) or {}
    if cell.get("queries") is None:
        return "failed" if cell.get("error") else "-"
    return f"{cell['queries']:,}"


def _relative(
    results: Results, database: str, scenario: str, key: tuple[str, str], rows: int
) -> str:
    leg, strategy = key
    cell = results.get(leg, database, scenario, strategy, rows) or {}
    if cell.get("median_ms") is None:
        return "failed" if cell.get("error") else "-"
    if leg == "main":
        return f"{_ms(cell['median_ms'])} ms"
    mine = results.get(leg, database, scenario, "autoprefetch", rows) or {}
    return f"x{_x(_ratio(cell['median_ms'], mine.get('median_ms')))}"


def _micro_section(results: Results) -> list[str]:
    micro = results.data.get("micro")
    if not micro:
        return ["Not run."]
    header = [
        "scenario",
        "serializer",
        "cold plan µs",
        "warm `optimize()` µs",
        "hand-written queryset µs",
        "mixin `get_queryset()` µs",
        "DRF `get_queryset()` µs",
    ]
    rows = []
    for name, entry in micro["serializers"].items():
        rows.append(
            [
                name,
                f"`{entry['serializer']}`",
                f"{entry['cold_plan']['median_us']:,.0f} (min {entry['cold_plan']['min_us']:,.0f})",
                f"{entry['optimize']['median_us']:.1f} (min {entry['optimize']['min_us']:.1f})",
                f"{entry['hand_queryset']['median_us']:.1f}",
                f"{entry['mixin_get_queryset']['median_us']:.1f}",
                f"{entry['drf_get_queryset']['median_us']:.1f}",
            ]
        )
    return [
        "Medians (and minima) on the main leg. A cold plan is `plan_for(S)` right after "
        "`drf_autoprefetch.planner.clear_cache()`, 30 times; the per-request costs are "
        "7 batches of 500 calls with the plan cached, the garbage collector off while they "
        "run (as `timeit` does). The hand-written queryset column is "
        "what building the scenario's hand-written `select_related`/`Prefetch` queryset "
        "costs, for scale; DRF's `get_queryset()` is the plain viewset's.",
        "",
        *_table(header, rows, "llrrrrr"),
        "",
        *_dynamic_section(micro.get("dynamic")),
        "",
        *_columns_section(micro.get("columns")),
        "",
        *_fan_in_sections(results),
    ]


def _fan_in_sections(results: Results) -> list[str]:
    """The fan-in sweep of each database it ran on (older results: the micro's one)."""
    sweeps: dict[str, Any] = dict(results.data.get("fan_in") or {})
    older = (results.data.get("micro") or {}).get("fan_in")
    if older and not sweeps:
        sweeps["sqlite"] = older
    lines: list[str] = []
    for backend, cells in sweeps.items():
        lines.extend(_fan_in_section(cells, backend))
        lines.append("")
    return lines[:-1]


def _fan_in_section(cells: list[dict[str, Any]] | None, backend: str = "sqlite") -> list[str]:
    """The fan-in sweep: split / join per number of lines and fan-in, and the rule."""
    if not cells:
        return []
    where = DATABASE_NAMES.get(backend, backend)
    fan_ins = sorted({cell["fan_in"] for cell in cells}, reverse=True)
    header = ["lines", "round trip", *(f"fan-in {fan_in:g}" for fan_in in fan_ins)]
    by_row: dict[tuple[int, bool], dict[float, dict[str, Any]]] = {}
    for cell in cells:
        by_row.setdefault((cell["lines"], cell["round_trip"]), {})[cell["fan_in"]] = cell
    rows = [
        [f"{lines:,}", "0.5 ms" if trip else "none", *(_fan_in_ratio(row.get(f)) for f in fan_ins)]
        for (lines, trip), row in sorted(by_row.items())
    ]
    marked = any("auto" in cell for cell in cells)
    return [
        "The fan-in sweep (`benchmarks/fanin.py`): baskets of ten lines, each line with "
        "its product, joined into the lines' prefetch (the default) or loaded by a query "
        f"of its own (`autoprefetch_split`); split time / join time on {where} "
        "(below 1: splitting is faster). The fan-in is distinct products per line."
        + (
            " After each ratio, what the loading cost model (`SPLIT` auto) chooses for that "
            "request, given the seeded tables' sizes and every basket as the request's rows."
            if marked
            else ""
        ),
        "",
        *_table(header, rows, "rl" + "r" * len(fan_ins)),
        "",
        f"{_fan_in_rule(cells)} Plans join by default; a serializer lists the relations to "
        'split in `autoprefetch_split`, or leaves the choice to the cost model with "auto".'
        + _fan_in_choices(cells),
    ]


def _fan_in_ratio(cell: dict[str, Any] | None) -> str:
    """split / join, and the cost model's choice where it was recorded."""
    if cell is None:
        return "-"
    choice = cell.get("auto")
    return f"x{cell['ratio']:.2f}" + (f" {choice}" if choice else "")


def _fan_in_rule(cells: list[dict[str, Any]]) -> str:
    """Where splitting was at least 5% faster than the join, cell by cell."""
    wins = [cell for cell in cells if cell["ratio"] <= 1 - FAN_IN_TOLERANCE]
    if not wins:
        return "Measured here, splitting was never at least 5% faster than the join."
    where = "; ".join(
        f"{cell['lines']:,} lines at fan-in {cell['fan_in']:g}"
        f"{' with the round trip' if cell['round_trip'] else ''} (x{cell['ratio']:.2f})"
        for cell in sorted(wins, key=lambda c: (c["lines"], -c["fan_in"], c["round_trip"]))
    )
    return (
        f"Measured here, splitting was at least 5% faster in {len(wins)} of {len(cells)} "
        f"cells: {where}."
    )


def _fan_in_choices(cells: list[dict[str, Any]]) -> str:
    """A sentence: in how many cells the cost model chose well, and where it did not."""
    judged = [cell for cell in cells if cell.get("auto")]
    if not judged:
        return ""
    wrong = [cell for cell in judged if not _good_choice(cell)]
    text = (
        f" The cost model chose the faster option, or one within 5% of it, in "
        f"{len(judged) - len(wrong)} of {len(judged)} cells"
    )
    if not wrong:
        return f"{text}."
    where = "; ".join(
        f"{cell['lines']:,} lines, fan-in {cell['fan_in']:g}, "
        f"{'0.5 ms' if cell['round_trip'] else 'no'} round trip (chose {cell['auto']}: "
        f"x{_chosen_over_best(cell):.2f} the time of {_other(cell['auto'])})"
        for cell in wrong
    )
    return f"{text}; not in: {where}."


def _other(choice: str) -> str:
    return "join" if choice == "split" else "split"


def _chosen_over_best(cell: dict[str, Any]) -> float:
    """The time of the option the cost model chose over the faster option's."""
    join_ms, split_ms = cell["join_ms"], cell["split_ms"]
    chosen = split_ms if cell["auto"] == "split" else join_ms
    return float(chosen / min(join_ms, split_ms))


def _good_choice(cell: dict[str, Any]) -> bool:
    return _chosen_over_best(cell) <= 1 + FAN_IN_TOLERANCE


def _columns_section(cells: list[dict[str, Any]] | None) -> list[str]:
    """The column-pruning set: every column, a hand-written ``only()``, the library."""
    if not cells:
        return []
    header = [
        "table",
        "rows",
        "every column ms",
        "hand `only()`",
        "drf_autoprefetch",
        "pruned by the cost model",
    ]
    rows = []
    for cell in cells:
        times = cell["median_ms"]
        base = times["all columns"]
        rows.append(
            [
                f"{cell['table']} ({cell['description']})",
                f"{cell['rows']:,}",
                f"{base:.2f}",
                f"x{times['hand only()'] / base:.2f}",
                f"x{times['drf_autoprefetch'] / base:.2f}",
                "yes" if cell["pruned"] else "no",
            ]
        )
    return [
        "The column-pruning set (`benchmarks/columns.py`): four tables listed by a "
        "serializer reading three or four narrow columns, rendered with every column "
        "loaded, with a hand-written `only()` and with drf_autoprefetch; medians of "
        "round-robin runs on the main leg's database, as ratios to loading every column "
        "(below 1: faster). The cost model prunes where it leaves out a text, binary, "
        "JSON or timestamp column, or most of a wide row.",
        "",
        *_table(header, rows, "lrrrrl"),
    ]


def _dynamic_section(dynamic: dict[str, Any] | None) -> list[str]:
    """The dynamic-fields scenario: per-request planning cost and query counts."""
    if not dynamic:
        return []
    header = [
        "mode",
        "serializer",
        "request",
        "mixin `get_queryset()` µs",
        "DRF `get_queryset()` µs",
        "overhead µs",
        "planning queries",
        "queries (hand plan)",
    ]
    rows = [
        [
            name,
            f"`{entry['serializer']}`",
            f"`?{entry['query']}`" if entry["query"] else "",
            f"{entry['mixin_get_queryset']['median_us']:.1f}",
            f"{entry['drf_get_queryset']['median_us']:.1f}",
            f"{_overhead(entry):.1f}",
            str(entry["planning_queries"]),
            f"{entry['queries']} ({entry['hand_queries']})",
        ]
        for name, entry in dynamic.items()
    ]
    return [
        "Fields per request (`benchmarks/dynamic.py`): a NetBox-like serializer over the "
        "deep scenario's companies, rendered full, brief and with `?fields=` (the view "
        "passes `fields=` or `nested=True` through `get_serializer()`), and a serializer "
        "that only overrides `__init__`. The queries are those of the rendered list; the "
        "hand plan is the one a developer writes for the fields that mode renders.",
        "",
        *_table(header, rows, "lllrrrrr"),
    ]


def _environment_section(results: Results) -> list[str]:
    data = results.data
    machine = data["machine"]
    lines = [
        f"- Date: {data['date']}; commit `{data.get('commit') or 'unknown'}`.",
        f"- Machine: {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gib']} GiB memory, {machine['system']}; load average "
        f"{machine['load_before'][0]:.2f} before and {machine['load_after'][0]:.2f} after "
        f"the run, which took {data['seconds'] / 60:.1f} minutes.",
    ]
    versions = sorted(
        {
            f"{name} {info['database']}"
            for name, info in data["databases"].items()
            if info.get("database")
        }
    )
    servers = sorted({v.split(" ", 1)[1] for v in versions})
    if servers:
        lines.append(f"- Databases: {', '.join(servers)}.")
    for name, info in data["databases"].items():
        if info.get("error"):
            lines.append(f"- Database `{name}` could not be prepared: {info['error']}")
    header = ["leg", "strategies", "Python", "Django", "DRF", "peer package", "problem"]
    rows = []
    for name, leg in data["legs"].items():
        env = leg.get("environment") or {}
        package = leg.get("package")
        rows.append(
            [
                name,
                "; ".join(LABELS[s] for s in leg["strategies"]),
                env.get("python", "-"),
                env.get("django", "-"),
                env.get("djangorestframework", "-"),
                f"{package} {env.get(package) or ''}".strip() if package else "-",
                (leg.get("error") or "-").replace("|", "/"),
            ]
        )
    return [*lines, "", *_table(header, rows, "lllllll")]


def _method_section(results: Results) -> list[str]:
    options = results.data["options"]
    return [
        f"- Root rows per request: {', '.join(f'{n:,}' for n in options['sizes'])}. Each "
        "size has its own database, seeded with exactly that many root rows per endpoint "
        "(`demo.seeding.seed` for the sample, `benchmarks.seeding.seed` for the deep tree "
        "and the wide table); one request lists them all on one page (`?page_size=`), so "
        "every count includes the paginator's `COUNT`.",
        "- A request is the viewset's list action called in-process with a request from "
        "`APIRequestFactory`, rendered to JSON bytes by DRF's `JSONRenderer`.",
        "- Per cell: one warm-up (it counts the queries with an `execute_wrapper` and "
        "keeps the SHA-256 of the body), one run under `tracemalloc` for the peak memory, "
        f"then timed runs: enough to fill {options['budget_s']} s, at least "
        f"{options['min_runs']} ({options.get('peer_min_runs', options['min_runs'])} in the "
        f"legs of the peers) and at most {options['max_runs']}. A request whose warm-up "
        f"took {options['long_run_s']} s or more is not run again, and not under "
        "`tracemalloc` either: its warm-up is its one timed run (*1 (warm-up)*) and its "
        "memory is not measured. The strategies of a cell are timed round-robin in one "
        "process, so drift in the machine's load hits them alike. Garbage is collected "
        "before every run.",
        "- Peak memory is measured once per database and size: the rows with the simulated "
        "round trip repeat the loopback figure (the delay allocates nothing). The legs of "
        "the peers measure it for the peer only, so their memory ratio is left blank.",
        "- SQLite files are used as Django leaves them, without `ANALYZE` statistics; "
        "PostgreSQL databases get a `VACUUM ANALYZE` after seeding, as autovacuum would.",
        f"- Simulated round trip: an `execute_wrapper` busy-waits {options['rtt_ms']} ms "
        "before every query sent to PostgreSQL on loopback (the same database as the "
        "loopback rows). A busy wait keeps the delay exact to the microsecond, where "
        "`time.sleep` overshoots.",
        "- Same JSON: each body is compared byte for byte (by digest) with the unoptimized "
        f"body. Above {options['unoptimized_max_rows']:,} rows the unoptimized strategy "
        "is skipped for time and bodies are compared with the hand-written plan's "
        "(marked *vs hand*).",
        "- Legs: the main leg (unoptimized, hand-written plan, drf_autoprefetch, and "
        "drf_autoprefetch with `SPLIT` auto) runs on the project's own environment. "
        "`FETCH_PEERS` and every peer run in a virtualenv of their own with Python 3.13 and "
        "Django 6.1, and each of those processes also measures the hand-written plan and "
        "drf_autoprefetch: the ratio columns of a peer compare it with those two measured "
        "beside it.",
        "- Peers are wired as their documentation says: `django-auto-prefetching`'s "
        "`AutoPrefetchViewSetMixin` on the viewset; `drf-serializer-prefetch`'s "
        "`PrefetchingSerializerMixin` on a subclass of the serializer; `django-fastdrf`'s "
        "`QueryOptimizationMixin` on the viewset with `Meta.auto_prefetch = True` on a "
        "subclass of the serializer (its serializer backends and other opt-ins stay off, so "
        "only its query optimization is compared). `FETCH_PEERS` is "
        "`QuerySet.fetch_mode(FETCH_PEERS)` on the viewset's queryset.",
        "- *drf_autoprefetch, SPLIT auto* is the drf_autoprefetch viewset serving a subclass "
        'of the scenario\'s serializer with `autoprefetch_split = "auto"`: the loading cost '
        "model decides per request whether each to-one relation below a to-many one is "
        "joined into that prefetch or loaded by a query of its own, from the page size and "
        "the tables' sizes in the database statistics. PostgreSQL has them after "
        "`VACUUM ANALYZE`; the SQLite files have none, so there it joins every relation, "
        "as drf_autoprefetch does. The statistics are read afresh before each scenario's "
        "requests (the library keeps them for ten minutes), so every request measured is "
        "a steady one, which reads none.",
    ]


def _goal_section(results: Results) -> list[str]:
    found = goals(results)
    rows = [[goal.text, goal.status, goal.detail.replace("|", "/")] for goal in found]
    lines = _table(["goal", "result", "detail"], rows, "lll")
    queries = split_queries(results)
    if queries:
        lines += ["", queries]
    notes = _notes(results, found)
    if notes:
        lines += ["", "Why the missed goals are missed:", "", *notes]
    return lines


def _notes(results: Results, found: list[Goal]) -> list[str]:
    """Causes of missed goals that the numbers themselves show."""
    missed = {goal.text: goal.detail for goal in found if goal.status == "missed"}
    notes = []
    if any("wide" in detail for detail in missed.values()):
        notes.append(
            "- *wide*: the hand-written plan and drf_autoprefetch both load only the three "
            'columns the serializer reads (`.only("id", "title", "status")`, the plan\'s '
            "`only`), so both run the same SQL and build the same deferred instances; a gap "
            "there is measurement noise."
        )
    micro = results.data.get("micro")
    optimize = next((t for t in missed if t.startswith("Warm")), None)
    if optimize and micro:
        entries = micro["serializers"]
        slowest = max(entries, key=lambda name: entries[name]["optimize"]["median_us"])
        entry = entries[slowest]
        notes.append(
            f"- *warm `optimize()`*: for `{entry['serializer']}` it takes "
            f"{entry['optimize']['median_us']:.0f} µs: one `QuerySet` copy for the plan's "
            "joins and prefetches (and one for `only()` where it prunes), the `Prefetch` "
            "objects being built once per plan. Building the same hand-written queryset "
            f"takes {entry['hand_queryset']['median_us']:.0f} µs; the hand-written strategy "
            "pays only DRF's `.all()` clone of a class attribute "
            f"({entry['drf_get_queryset']['median_us']:.1f} µs). Either way it is well under "
            "1% of a request of 10 rows or more."
        )
    peers = next((d for t, d in missed.items() if t.startswith("Lower median")), "")
    if "(same queries)" in peers:
        notes.append(
            "- *peers, same queries*: where a peer runs exactly the queries drf_autoprefetch "
            "runs (the wide table has no relation to plan), both do the same work and which "
            "one is faster is measurement noise."
        )
    wins = _peer_wins(results)
    if wins:
        notes.append(
            "- *peers faster than the hand-written plan*: with "
            + "; ".join(wins)
            + " (time / hand) the peer beats by more than 10% the hand-written plan measured "
            "beside it too, so the plan "
            "itself, not drf_autoprefetch, is slower there. Those peers prefetch each to-one "
            "relation below a to-many one in a query of its own instead of joining it; when "
            "many rows share the same related row (the deep tree's people and cities), a "
            "separate query builds one instance per distinct row where a join builds one per "
            "row, and that can outweigh the extra round trips."
        )
    notes += _split_notes(missed)
    timing = next((d for t, d in missed.items() if t.startswith("Median time")), "")
    if timing and not all("wide" in part for part in timing.split("; ")[1:] if part):
        load = results.data["machine"]
        notes.append(
            "- *time within 5%*: outside the wide table drf_autoprefetch runs the same "
            "number of queries as the hand-written plan, and its own per-request cost is the "
            "mixin's `get_queryset()` (see the micro-benchmarks), a few hundredths of a "
            "millisecond. A larger gap in a cell is noise of a shared 2-core machine (load "
            f"average {load['load_before'][0]:.1f} before the run and "
            f"{load['load_after'][0]:.1f} after); compare the minimum times."
        )
    return notes


def _split_notes(missed: dict[str, str]) -> list[str]:
    """Why the goals of SPLIT auto are missed, from their details."""
    notes = []
    split = missed.get(SPLIT_TIME_TEXT)
    if split == "no cell split":
        notes.append(
            f"- *SPLIT auto at {SPLIT_ROWS:,} rows*: the cost model loaded no relation apart, "
            "so there is no split to time. It splits a to-one relation below a to-many one "
            "only where the prefetch reads 1,000 rows or more and, expected from the tables' "
            "sizes, those rows point to few distinct related rows: at most 0.01 per row for "
            "each column of the related model, and 0.3 at most. No relation of these "
            "scenarios is that concentrated at this size."
        )
    elif split:
        notes.append(
            f"- *SPLIT auto at {SPLIT_ROWS:,} rows*: in the cells listed, loading the "
            "relation apart did not take 5% off the hand-written plan's time; the fan-in "
            "sweep (under Micro-benchmarks) shows how close the two options are near the "
            "rule's threshold."
        )
    bound = next((d for t, d in missed.items() if t.startswith("SPLIT auto never")), "")
    if bound and "(split)" not in bound:
        notes.append(
            "- *SPLIT auto within 5%*: in every cell above the bound it ran the queries of "
            "the hand-written plan, the plan drf_autoprefetch runs, so the gap is noise of "
            "the same kind as drf_autoprefetch's."
        )
    elif bound:
        notes.append(
            "- *SPLIT auto within 5%*: in the cells marked *(split)* the relation loaded "
            "apart cost more in its extra query than the join it replaced; the others ran "
            "the hand-written plan's queries, and their gap is noise."
        )
    return notes


def _failures(results: Results) -> list[str]:
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (leg, _, scenario, strategy, _), cell in results.cells.items():
        if cell.get("error"):
            seen[(LABELS[strategy], cell["error"])].add(f"{scenario} ({leg})")
    if not seen:
        return ["None: every strategy answered every request."]
    return [
        f"- {strategy} on {', '.join(sorted(where))}: `{error}`"
        for (strategy, error), where in sorted(seen.items())
    ]


def render(results: Results, plots: list[str]) -> str:
    lines = [
        "# Benchmark report",
        "",
        "Generated by `make bench` (`python -m benchmarks`); the method is described in "
        "[the benchmarks page](../benchmarks.md).",
        "",
        "## Goals",
        "",
        *_goal_section(results),
        "",
        "## Headline",
        "",
        *_headline(results),
        "",
        "## Environment",
        "",
        *_environment_section(results),
        "",
        "## Method",
        "",
        *_method_section(results),
        "",
        "## Micro-benchmarks",
        "",
        *_micro_section(results),
        "",
        "## Strategies that failed",
        "",
        *_failures(results),
        "",
    ]
    for database in results.databases:
        lines += [f"## {DATABASE_TITLES[database]}", ""]
        if f"{database}.png" in plots:
            lines += [
                f"![Median time against root rows, {DATABASE_TITLES[database]}]({database}.png)",
                "",
            ]
        for scenario in results.scenarios:
            lines += [f"### {scenario}: {SCENARIO_TITLES[scenario]}", ""]
            lines += _table(
                DETAIL_HEADER, _detail_rows(results, database, scenario), "lllrrrrrrrrl"
            )
            lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _plot_lines(results: Results) -> list[tuple[str, str, str, str]]:
    """(leg, strategy, label, line style) of each line on a plot."""
    lines = [("main", s, LABELS[s], "-." if s == "autoprefetch_auto" else "-") for s in MAIN]
    if "django61" in results.legs:
        lines.append(("django61", "autoprefetch", "drf_autoprefetch (Django 6.1)", "--"))
    for leg, strategy in _row_labels(results):
        if leg != "main":
            lines.append((leg, strategy, LABELS[strategy], ":"))
    return lines


def write_plots(results: Results, out_dir: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install -e '.[bench]')")
        return []
    written = []
    for database in results.databases:
        columns = min(3, len(results.scenarios))
        rows_of_plots = -(-len(results.scenarios) // columns)
        figure, axes = plt.subplots(
            rows_of_plots, columns, figsize=(5 * columns, 4 * rows_of_plots), squeeze=False
        )
        for index, scenario in enumerate(results.scenarios):
            axis = axes[index // columns][index % columns]
            for leg, strategy, label, style in _plot_lines(results):
                points = [
                    (rows, cell["median_ms"])
                    for rows in results.sizes
                    if (cell := results.measured(leg, database, scenario, strategy, rows))
                ]
                if points:
                    xs, ys = zip(*points, strict=True)
                    axis.plot(xs, ys, style, marker="o", markersize=3, label=label)
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_title(scenario)
            axis.set_xlabel("root rows")
            axis.set_ylabel("median ms per request")
            axis.grid(True, which="both", alpha=0.3)
        for index in range(len(results.scenarios), rows_of_plots * columns):
            axes[index // columns][index % columns].axis("off")
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=4, fontsize="small")
        figure.suptitle(f"Time against root rows: {DATABASE_TITLES[database]}")
        figure.tight_layout(rect=(0, 0.08, 1, 0.96))
        name = f"{database}.png"
        figure.savefig(out_dir / name, dpi=90)
        plt.close(figure)
        written.append(name)
    return written


# --------------------------------------------------------------------------- outputs


def write_outputs(data: dict[str, Any], out_dir: Path, *, plots: bool = True) -> Path:
    """Write ``results.json``, the PNGs and ``report.md``; return the report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = Results(data)
    stored = json.loads(json.dumps(data))
    for cell in stored["cells"]:
        cell.pop("digest", None)
    (out_dir / "results.json").write_text(json.dumps(stored, indent=1) + "\n")
    written = write_plots(results, out_dir) if plots else []
    report = out_dir / "report.md"
    report.write_text(render(results, written) + "\n")
    return report
