"""Automatic ``select_related`` and ``Prefetch`` plans for Django REST Framework serializers.

Importing this package is cheap and safe before the app registry is ready: the public
names are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "AutoPrefetchMixin",
    "Plan",
    "PlanError",
    "UnplannedQueryError",
    "auto_prefetch",
    "hints",
    "optimize",
    "plan_for",
]

_EXPORTS = {
    "AutoPrefetchMixin": "drf_autoprefetch.mixins",
    "Plan": "drf_autoprefetch.plan",
    "PlanError": "drf_autoprefetch.exceptions",
    "UnplannedQueryError": "drf_autoprefetch.exceptions",
    "auto_prefetch": "drf_autoprefetch.decorators",
    "hints": "drf_autoprefetch.hinting",
    "optimize": "drf_autoprefetch.shortcuts",
    "plan_for": "drf_autoprefetch.planner",
}

if TYPE_CHECKING:
    from drf_autoprefetch.decorators import auto_prefetch
    from drf_autoprefetch.exceptions import PlanError, UnplannedQueryError
    from drf_autoprefetch.hinting import hints
    from drf_autoprefetch.mixins import AutoPrefetchMixin
    from drf_autoprefetch.plan import Plan
    from drf_autoprefetch.planner import plan_for
    from drf_autoprefetch.shortcuts import optimize


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'drf_autoprefetch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
