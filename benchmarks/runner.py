"""Run the benchmark matrix and write the report.

    python -m benchmarks [--sizes 10,100,1000] [--databases sqlite,postgresql,postgresql-rtt]
                         [--strategies ...] [--output-dir docs/benchmarks] ...

For each database backend and number of root rows the runner creates and seeds one
database (SQLite files in a scratch directory, PostgreSQL databases named
``dap_bench_<rows>``), then starts one worker per leg on it. The main leg runs in the
interpreter that runs this module; the others in virtualenvs ``.venv-bench-<leg>`` that
the runner creates with Python 3.13 and Django 6.1 and reuses while their requirements
stay the same. Results are merged into ``results.json``, ``report.md`` and one PNG per
database in the output directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.legs import LABELS, Leg, legs_for

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
DATABASES = ("sqlite", "postgresql", "postgresql-rtt")
SCENARIO_NAMES = ("orders", "books", "authors", "rooms", "deep", "wide")
DEFAULT_SIZES = "10,100,1000"
PG_PREFIX = "dap_bench"


# --------------------------------------------------------------------------- options


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text!r}") from exc
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"sizes must be at least 1: {text!r}")
    return values


def _choices(allowed: tuple[str, ...] | list[str]) -> Any:
    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [value for value in values if value not in allowed]
        if unknown or not values:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(map(repr, unknown)) or 'empty list'}; "
                f"choose from: {', '.join(allowed)}"
            )
        return values

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument(
        "--sizes",
        type=_int_list,
        default=_int_list(os.environ.get("SIZES") or DEFAULT_SIZES),
        help=f"root rows per request, comma-separated (default: $SIZES or {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--databases",
        type=_choices(DATABASES),
        default=list(DATABASES),
        help=f"comma-separated subset of {','.join(DATABASES)}",
    )
    parser.add_argument(
        "--strategies",
        type=_choices(list(LABELS)),
        default=list(LABELS),
        help=f"comma-separated subset of {','.join(LABELS)}",
    )
    parser.add_argument(
        "--scenarios",
        type=_choices(SCENARIO_NAMES),
        default=list(SCENARIO_NAMES),
        help=f"comma-separated subset of {','.join(SCENARIO_NAMES)}",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=ROOT / "docs" / "benchmarks", help="report directory"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="scratch directory (default: a temporary one)"
    )
    parser.add_argument(
        "--rtt-ms", type=float, default=0.5, help="simulated round trip per query (ms)"
    )
    parser.add_argument(
        "--budget", type=float, default=0.3, help="seconds of timed runs per cell (default 0.3)"
    )
    parser.add_argument(
        "--min-runs", type=int, default=5, help="timed runs per cell of the main leg, at least"
    )
    parser.add_argument(
        "--peer-min-runs", type=int, default=3, help="timed runs per cell of the other legs"
    )
    parser.add_argument("--max-runs", type=int, default=15, help="timed runs per cell, at most")
    parser.add_argument(
        "--long-run",
        type=float,
        default=2.0,
        help="a cell whose warm-up takes this many seconds is timed once (default 2)",
    )
    parser.add_argument(
        "--unoptimized-max-rows",
        type=int,
        default=1000,
        help="skip the unoptimized strategy above this many rows (default 1000)",
    )
    parser.add_argument("--python313", default=None, help="Python 3.13 for the other legs")
    parser.add_argument("--no-micro", action="store_true", help="skip the micro-benchmarks")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")
    parser.add_argument(
        "--keep-databases", action="store_true", help="keep the PostgreSQL databases"
    )
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- environments


def find_python313(explicit: str | None) -> str | None:
    """A Python 3.13 interpreter: the option, ``$BENCH_PYTHON313``, pyenv, or the PATH."""
    candidates = [explicit, os.environ.get("BENCH_PYTHON313")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        for version in sorted((v for v in versions if v.startswith("3.13.")), reverse=True):
            found = subprocess.run(
                [pyenv, "which", "python3.13"],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PYENV_VERSION": version},
            ).stdout.strip()
            candidates.append(found)
    candidates.append(shutil.which("python3.13"))
    for candidate in candidates:
        if candidate and _runs(candidate):
            return candidate
    return None


def _runs(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def _requirements(leg: Leg) -> list[str]:
    pins = [f"djangorestframework=={metadata.version('djangorestframework')}", "psycopg[binary]"]
    return [*(leg.requirements or ()), *pins]


def ensure_venv(leg: Leg, python313: str | None, work: Path) -> tuple[str | None, str | None]:
    """The interpreter of ``leg``'s virtualenv, created if needed; or ``None`` and why."""
    if leg.requirements is None:
        return sys.executable, None
    if python313 is None:
        return None, "no Python 3.13 interpreter found (set BENCH_PYTHON313)"
    venv = ROOT / f".venv-bench-{leg.name}"
    python = venv / "bin" / "python"
    stamp = venv / ".bench-requirements"
    wanted = "\n".join(_requirements(leg))
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python), None
    _say(f"creating .venv-bench-{leg.name} ({', '.join(_requirements(leg))})")
    log = work / f"pip-{leg.name}.log"
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [python313, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *_requirements(leg)],
    ]
    with log.open("w") as out:
        for step in steps:
            done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                return None, _tail(log.read_text(), f"pip install for {leg.name} failed")
    stamp.write_text(wanted)
    return str(python), None


def _tail(text: str, headline: str) -> str:
    lines = text.strip().splitlines()
    errors = [line for line in lines if line.startswith("ERROR")] or lines
    return sanitize(f"{headline}: {' '.join(errors[-3:])}")


def sanitize(text: str) -> str:
    """Error text without this machine's directories."""
    for path, shown in ((str(ROOT), "."), (str(Path.home()), "~"), (sys.prefix, "<venv>")):
        text = text.replace(path, shown)
    return text.replace(tempfile.gettempdir(), "<tmp>")


# --------------------------------------------------------------------------- workers


@dataclass
class Database:
    backend: str  # sqlite | postgresql
    rows: int
    name: str
    modes: list[tuple[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def env(self) -> dict[str, str]:
        return {"BENCH_DB_ENGINE": self.backend, "BENCH_DB_NAME": self.name}


def _worker(
    python: str, mode: str, spec: dict[str, Any], database: Database, work: Path
) -> tuple[dict[str, Any] | None, str | None]:
    tag = f"{mode}-{spec.get('leg', 'data')}-{database.backend}-{database.rows}"
    spec_path, out_path = work / f"{tag}.spec.json", work / f"{tag}.out.json"
    spec_path.write_text(json.dumps(spec))
    out_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        **database.env(),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [python, "-m", "benchmarks.worker", mode, str(spec_path), str(out_path)]
    other: list[str] = []
    with subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) as process:
        for line in process.stderr or ():
            if line.startswith("  "):
                _say(line.rstrip())  # a worker's progress
            elif line.strip():
                other.append(line.rstrip())
    if process.returncode != 0 or not out_path.exists():
        return None, sanitize(other[-1] if other else f"exit status {process.returncode}")
    return json.loads(out_path.read_text()), None


def _databases(args: argparse.Namespace, work: Path) -> list[Database]:
    found = []
    for rows in args.sizes:
        if "sqlite" in args.databases:
            database = Database("sqlite", rows, str(work / f"bench-{rows}.sqlite3"))
            database.modes = [("sqlite", 0.0)]
            found.append(database)
        modes = [(name, 0.0) for name in args.databases if name == "postgresql"]
        modes += [(name, args.rtt_ms) for name in args.databases if name == "postgresql-rtt"]
        if modes:
            found.append(Database("postgresql", rows, f"{PG_PREFIX}_{rows}", modes))
    return found


def _drop_postgresql(databases: list[Database]) -> None:
    names = [d.name for d in databases if d.backend == "postgresql" and not d.error]
    if not names:
        return
    script = (
        "import psycopg, sys, os\n"
        "with psycopg.connect(host=os.environ.get('BENCH_DB_HOST', '127.0.0.1'),"
        " port=os.environ.get('BENCH_DB_PORT', '5432'),"
        " user=os.environ.get('BENCH_DB_USER', 'postgres'),"
        " password=os.environ.get('BENCH_DB_PASSWORD', ''), dbname='postgres',"
        " autocommit=True) as c:\n"
        "    for name in sys.argv[1:]:\n"
        "        c.execute(f'DROP DATABASE IF EXISTS \"{name}\"')\n"
    )
    subprocess.run([sys.executable, "-c", script, *names], check=False)


# --------------------------------------------------------------------------- the run


def _machine() -> dict[str, Any]:
    memory = None
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "cpu": cpu,
        "system": platform.system(),
        "load_before": list(os.getloadavg()),
    }


def _commit() -> str | None:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


_STARTED = time.monotonic()


def _say(message: str) -> None:
    minutes, seconds = divmod(int(time.monotonic() - _STARTED), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {message}", file=sys.stderr, flush=True)


def _error_cells(leg: Leg, database: Database, scenarios: list[str], error: str) -> list[dict]:
    return [
        {
            "leg": leg.name,
            "database": mode,
            "scenario": scenario,
            "strategy": strategy,
            "rows": database.rows,
            "error": error,
        }
        for mode, _ in database.modes
        for scenario in scenarios
        for strategy in leg.strategies
    ]


def _results(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "commit": _commit(),
        "options": {
            "sizes": args.sizes,
            "databases": args.databases,
            "strategies": args.strategies,
            "scenarios": args.scenarios,
            "rtt_ms": args.rtt_ms,
            "budget_s": args.budget,
            "min_runs": args.min_runs,
            "peer_min_runs": args.peer_min_runs,
            "max_runs": args.max_runs,
            "unoptimized_max_rows": args.unoptimized_max_rows,
            "long_run_s": args.long_run,
        },
        "legs": {},
        "databases": {},
        "cells": [],
        "fan_in": {},
    }


class _Run:
    """One run of the matrix: the legs' interpreters, the databases, the merged results."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.results = _results(args)
        self.legs = legs_for(set(args.strategies))
        self.interpreters: dict[str, str | None] = {}
        self.micro_done = args.no_micro
        #: The backends the fan-in sweep ran on (once each, on the main leg).
        self.fan_in_done: set[str] = set()
        self.settings = {
            "budget": args.budget,
            "min_runs": args.min_runs,
            "max_runs": args.max_runs,
            "unoptimized_max_rows": args.unoptimized_max_rows,
            "long_run": args.long_run,
        }

    def set_up_legs(self) -> None:
        python313 = None
        if any(leg.requirements is not None for leg in self.legs):
            python313 = find_python313(self.args.python313)
        for leg in self.legs:
            python, error = ensure_venv(leg, python313, self.work)
            self.interpreters[leg.name] = python
            self.results["legs"][leg.name] = {
                "strategies": list(leg.strategies),
                "requirements": _requirements(leg) if leg.requirements else None,
                "package": leg.package,
                "error": error,
            }

    def measure(self, database: Database) -> None:
        _say(f"preparing {database.backend} with {database.rows} rows per endpoint")
        spec = {"rows": database.rows}
        info, error = _worker(sys.executable, "prepare", spec, database, self.work)
        database.info, database.error = info or {}, error
        key = f"{database.backend}-{database.rows}"
        self.results["databases"][key] = {**database.info, "error": error}
        for leg in self.legs:
            self.run_leg(leg, database)

    def run_leg(self, leg: Leg, database: Database) -> None:
        python = self.interpreters[leg.name]
        error = database.error or self.results["legs"][leg.name]["error"]
        if error or python is None:
            self.results["cells"] += _error_cells(leg, database, self.args.scenarios, error)
            return
        spec = {
            "leg": leg.name,
            "rows": database.rows,
            "modes": database.modes,
            "scenarios": self.args.scenarios,
            "strategies": list(leg.strategies),
            "packages": [leg.package] if leg.package else [],
            # The comparison legs measure the memory of their own strategy only.
            "memory": list(leg.own),
            "settings": {
                **self.settings,
                "min_runs": self.args.min_runs
                if leg.requirements is None
                else self.args.peer_min_runs,
            },
            "micro": leg.requirements is None and not self.micro_done,
            "fan_in": leg.requirements is None
            and not self.args.no_micro
            and database.backend not in self.fan_in_done,
        }
        output, error = _worker(python, "run", spec, database, self.work)
        if output is None:
            self.results["cells"] += _error_cells(leg, database, self.args.scenarios, error)
            return
        if "micro" in output:
            self.micro_done = True
            self.results["micro"] = output["micro"]
        if "fan_in" in output:
            self.fan_in_done.add(database.backend)
            self.results["fan_in"][database.backend] = output["fan_in"]
        self.results["legs"][leg.name]["environment"] = output["environment"]
        self.results["cells"] += output["cells"]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the matrix of ``args``; return the merged results."""
    started = time.perf_counter()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="dap_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    state = _Run(args, work)
    databases = _databases(args, work)
    try:
        state.set_up_legs()
        for database in databases:
            state.measure(database)
    finally:
        if not args.keep_databases:
            _drop_postgresql(databases)
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    results = state.results
    for cell in results["cells"]:
        if cell.get("error"):
            cell["error"] = sanitize(cell["error"])
    results["machine"]["load_after"] = list(os.getloadavg())
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks.report import check, write_outputs

    results = run(args)
    write_outputs(results, args.output_dir, plots=not args.no_plots)
    _say(f"wrote {args.output_dir / 'report.md'} in {results['seconds']:.0f} s")
    problems = check(results)
    for problem in problems:
        _say(f"problem: {problem}")
    return 1 if problems else 0
