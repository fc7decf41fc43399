"""The ``@hints(...)`` line that would plan a query run by a field: for messages."""

from __future__ import annotations

import re
from collections import deque

from django.db.models import Model

from drf_autoprefetch.modelinfo import model_attrs
from drf_autoprefetch.tree import Kind

__all__ = ["hint_for_query", "hints_line"]

#: The first table a query reads from, quoted or not.
_FROM = re.compile(r"\bFROM\s+[`\"\[]?(\w+)", re.IGNORECASE)

#: How many relations deep a suggestion looks for the table a query read.
_DEPTH = 3


def table_of(sql: str) -> str | None:
    """The first table a query reads (``FROM ...``), unquoted."""
    match = _FROM.search(sql)
    return match.group(1) if match else None


def hint_for_query(model: type[Model] | None, sql: str) -> str | None:
    """``@hints(...)`` loading the table ``sql`` reads, from a ``model`` instance.

    ``None`` when the table is not reached through relations of ``model``.
    """
    match = _FROM.search(sql)
    if model is None or match is None:
        return None
    found = _path_to(model, match.group(1))
    if found is None:
        return None
    path, to_many = found
    keyword = "prefetch_related" if to_many else "select_related"
    return f'@hints({keyword}=["{path}"])'


def _path_to(model: type[Model], table: str) -> tuple[str, bool] | None:
    """The shortest relation path from ``model`` to the model stored in ``table``."""
    queue: deque[tuple[type[Model], tuple[str, ...], bool]] = deque([(model, (), False)])
    seen = {model}
    while queue:
        current, path, to_many = queue.popleft()
        if len(path) >= _DEPTH:
            continue
        for name, attr in sorted(model_attrs(current).items()):
            target = attr.model
            if attr.kind is None or target is None:
                continue
            step = ((*path, name), to_many or attr.kind is not Kind.JOIN)
            if target._meta.db_table == table:
                return "__".join(step[0]), step[1]
            if target not in seen:
                seen.add(target)
                queue.append((target, *step))
    return None


def hints_line(model: type[Model], paths: list[str]) -> str:
    """``@hints(...)`` declaring ``paths`` (lookup paths from ``model``), longest only."""
    longest = [path for path in paths if not any(o.startswith(f"{path}__") for o in paths)]
    select: list[str] = []
    prefetch: list[str] = []
    for path in longest:
        (prefetch if _crosses_to_many(model, path) else select).append(path)
    parts = []
    if select:
        parts.append(f"select_related={_listed(select)}")
    if prefetch:
        parts.append(f"prefetch_related={_listed(prefetch)}")
    return f"@hints({', '.join(parts)})"


def _crosses_to_many(model: type[Model], path: str) -> bool:
    current: type[Model] | None = model
    for name in path.split("__"):
        attr = model_attrs(current).get(name) if current is not None else None
        if attr is None:
            return True
        if attr.kind is not Kind.JOIN:
            return True
        current = attr.model
    return False


def _listed(paths: list[str]) -> str:
    return "[" + ", ".join(f'"{path}"' for path in paths) + "]"
