"""How many rows a table holds, as far as it can be known cheaply: the loading cost model's
input (:mod:`drf_autoprefetch.loading`).

Two sources, in this order:

- ``DRF_AUTOPREFETCH["TABLE_ROWS"]``: row counts (or bounds) given per model label;
- the database's own statistics, read by one query per database (on a connection of its
  own) and kept for :data:`STATISTICS_TTL` seconds: PostgreSQL's ``pg_class.reltuples``, MySQL's and
  MariaDB's ``information_schema.TABLES.TABLE_ROWS``, SQLite's ``sqlite_stat1`` (written
  by ``ANALYZE``). A table the statistics say nothing of, or call empty (as a table
  never analyzed looks), has no known size.

Nothing here runs a query unless asked for a size the setting does not give.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import Model

from drf_autoprefetch.conf import settings

__all__ = ["STATISTICS_TTL", "clear", "generation", "table_rows"]

logger = logging.getLogger("drf_autoprefetch")

#: How long the statistics read from a database are used before they are read again.
STATISTICS_TTL = 600.0

_PER_VENDOR = {
    "postgresql": (
        "SELECT c.relname, c.reltuples FROM pg_catalog.pg_class c "
        "WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)"
    ),
    "mysql": (
        "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE()"
    ),
}
_SQLITE_HAS_STATS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
#: ``stat`` starts with the table's row count; CAST keeps that leading integer.
_SQLITE_STATS = "SELECT tbl, MAX(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl"

_read: dict[str, tuple[float, dict[str, float]]] = {}
_lock = threading.Lock()
#: Bumped whenever statistics are read or forgotten: what was decided from sizes is stale.
_generation = 0


def table_rows(model: type[Model], alias: str) -> float | None:
    """How many rows the table of ``model`` holds on the database ``alias``, or ``None``."""
    given = settings.TABLE_ROWS.get(model._meta.label)
    if given is not None:
        return float(given)
    rows = _statistics(alias).get(model._meta.db_table)
    return rows if rows is not None and rows > 0 else None


def clear() -> None:
    """Forget the statistics read so far (each database is asked again when needed)."""
    global _generation
    with _lock:
        _read.clear()
        _generation += 1


def generation() -> int:
    """A number that changes whenever the sizes known may have changed (but for the
    ``TABLE_ROWS`` setting)."""
    return _generation


def _statistics(alias: str) -> dict[str, float]:
    now = time.monotonic()
    kept = _read.get(alias)
    if kept is not None and now - kept[0] < STATISTICS_TTL:
        return kept[1]
    global _generation
    with _lock:
        kept = _read.get(alias)
        if kept is None or now - kept[0] >= STATISTICS_TTL:
            kept = _read[alias] = (now, _ask(alias))
            _generation += 1
    return kept[1]


def _ask(alias: str) -> dict[str, float]:
    """The row counts the statistics of database ``alias`` hold, by table name.

    Read on a connection of its own, closed after: the request's connection runs no
    query it did not ask for (its query count, its transaction and its strict mode are
    left alone), and the statistics are those committed.
    """
    connection = connections.create_connection(alias)
    try:
        with connection.cursor() as cursor:
            rows = _rows(connection.vendor, cursor)
    except DatabaseError as exc:  # statistics that cannot be read are not known
        logger.debug("drf_autoprefetch: no table statistics on %r: %r", alias, exc)
        return {}
    finally:
        _close(connection)
    return {str(name): float(count) for name, count in rows if count is not None}


def _close(connection: Any) -> None:
    connection.close()
    raw = connection.connection
    if raw is not None:  # Django keeps an in-memory SQLite database open on close()
        raw.close()
        connection.connection = None


def _rows(vendor: str, cursor: Any) -> list[tuple[Any, Any]]:
    if vendor == "sqlite":
        cursor.execute(_SQLITE_HAS_STATS)
        if cursor.fetchone() is None:
            return []
        cursor.execute(_SQLITE_STATS)
        return list(cursor.fetchall())
    sql = _PER_VENDOR.get(vendor)
    if sql is None:
        return []
    cursor.execute(sql)
    return list(cursor.fetchall())
