"""Query budgets in version control: ``prefetch_plans --snapshot`` and ``--compare``.

A snapshot holds, for every endpoint (a view action, or an ``@auto_prefetch``
serializer), the number of queries its plan predicts and a digest of the plan, in a
stable order, as JSON. Comparing a snapshot with the current plans finds each endpoint
whose count grew or whose plan changed. Neither needs a database.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drf_autoprefetch.plan import Plan

__all__ = ["FORMAT", "Change", "compare", "digest", "endpoint_key", "record"]

#: The snapshot format; a file of another format is refused.
FORMAT = 1


def digest(plan: Plan) -> str:
    """A short digest of everything a plan loads and warns about."""
    text = json.dumps(plan.as_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def endpoint_key(target: str, action: str | None) -> str:
    """How a snapshot names an endpoint: ``view.path action`` or the serializer's path."""
    return target if action is None else f"{target} {action}"


def record(
    key: str, serializer: str, plan: Plan | None, error: str | None = None
) -> dict[str, Any]:
    """One endpoint's entry."""
    if plan is None:
        return {"endpoint": key, "serializer": serializer, "error": error}
    return {
        "endpoint": key,
        "serializer": serializer,
        "queries": plan.query_count,
        "digest": digest(plan),
        "plan": str(plan).splitlines(),
    }


def document(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The snapshot file's content: entries sorted by endpoint."""
    ordered = sorted(entries, key=lambda entry: entry["endpoint"])
    return {"format": FORMAT, "endpoints": ordered}


@dataclass(frozen=True)
class Change:
    """How one endpoint differs from the snapshot."""

    endpoint: str
    kind: str  # "grew", "changed", "fewer", "new", "gone", "broken"
    detail: str
    diff: tuple[str, ...] = ()

    @property
    def fails(self) -> bool:
        """A grown count, a changed plan or a plan that no longer builds fail a compare."""
        return self.kind in ("grew", "changed", "fewer", "broken")

    def lines(self) -> list[str]:
        return [f"{self.endpoint}: {self.detail}", *(f"  {line}" for line in self.diff)]


def load(text: str, source: str) -> dict[str, Mapping[str, Any]]:
    """The entries of a snapshot, by endpoint; ``ValueError`` naming ``source`` if it is
    not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not JSON ({exc}).") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"{source} is not a snapshot of format {FORMAT}; write one with "
            f"prefetch_plans --snapshot {source}."
        )
    return {entry["endpoint"]: entry for entry in data["endpoints"]}


def compare(old: Mapping[str, Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[Change]:
    """What differs between a snapshot's entries and the current ones, by endpoint."""
    changes: list[Change] = []
    current = {entry["endpoint"]: entry for entry in new}
    for key in sorted(set(old) | set(current)):
        change = _change(key, old.get(key), current.get(key))
        if change is not None:
            changes.append(change)
    return changes


def _change(
    key: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> Change | None:
    if before is None:
        assert after is not None
        return Change(key, "new", f"new endpoint ({_count(after)})")
    if after is None:
        return Change(key, "gone", "no longer planned (removed from the URLconf?)")
    if after.get("error"):
        if before.get("error"):
            return None
        return Change(key, "broken", f"no longer planned: {after['error']}")
    if before.get("digest") == after.get("digest"):
        return None
    diff = tuple(
        difflib.unified_diff(
            before.get("plan", []), after["plan"], "snapshot", "now", lineterm="", n=1
        )
    )
    old_count, new_count = before.get("queries"), after["queries"]
    if old_count is not None and new_count > old_count:
        return Change(key, "grew", f"queries grew from {old_count} to {new_count}", diff)
    if old_count is not None and new_count < old_count:
        detail = f"queries went down from {old_count} to {new_count}; update the snapshot"
        return Change(key, "fewer", detail, diff)
    return Change(key, "changed", f"the plan changed ({new_count} queries)", diff)


def _count(entry: Mapping[str, Any]) -> str:
    queries = entry.get("queries")
    if queries is None:
        return f"not planned: {entry.get('error')}"
    return f"{queries} {'query' if queries == 1 else 'queries'}"
