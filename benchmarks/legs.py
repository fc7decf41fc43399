"""The strategies and the environments ("legs") they run in. Imports no Django.

The main leg runs in the interpreter that runs the benchmarks. Every other leg gets a
virtualenv of its own with Python 3.13 and Django 6.1, and measures the hand-written
plan and drf_autoprefetch beside its own strategy, in the same process, so that each
comparison is made on one interpreter, one Django and one run.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASELINES", "LABELS", "LEGS", "MAIN", "Leg", "legs_for"]

LABELS = {
    "unoptimized": "unoptimized",
    "hand": "hand-written plan",
    "autoprefetch": "drf_autoprefetch",
    "autoprefetch_auto": "drf_autoprefetch, SPLIT auto",
    "fetch_peers": "FETCH_PEERS",
    "auto_prefetching": "django-auto-prefetching",
    "serializer_prefetch": "drf-serializer-prefetch",
    "fastdrf": "django-fastdrf",
}

#: The strategies of the main leg, in the order the report shows them.
MAIN = ("unoptimized", "hand", "autoprefetch", "autoprefetch_auto")

#: What every comparison leg measures beside its own strategy.
BASELINES = ("hand", "autoprefetch")

#: The Django of the comparison legs (``FETCH_PEERS`` needs 6.1).
DJANGO_61 = "Django>=6.1,<6.2"


@dataclass(frozen=True)
class Leg:
    name: str
    #: The strategies this leg exists for (the comparison legs add ``BASELINES``).
    own: tuple[str, ...]
    #: Requirements of its virtualenv; ``None``: the interpreter running the benchmarks.
    requirements: tuple[str, ...] | None = None
    #: The distribution whose version the report names.
    package: str | None = None

    @property
    def strategies(self) -> tuple[str, ...]:
        if self.requirements is None:
            return self.own
        return (*BASELINES, *self.own)


LEGS = (
    Leg("main", MAIN),
    Leg("django61", ("fetch_peers",), (DJANGO_61,)),
    Leg(
        "auto-prefetching",
        ("auto_prefetching",),
        (DJANGO_61, "django-auto-prefetching"),
        "django-auto-prefetching",
    ),
    Leg(
        "serializer-prefetch",
        ("serializer_prefetch",),
        (DJANGO_61, "drf-serializer-prefetch"),
        "drf-serializer-prefetch",
    ),
    Leg("fastdrf", ("fastdrf",), (DJANGO_61, "django-fastdrf"), "django-fastdrf"),
)


def legs_for(strategies: set[str]) -> list[Leg]:
    """The legs needed for ``strategies``; the main leg keeps only the ones asked for."""
    chosen = []
    for leg in LEGS:
        wanted = tuple(name for name in leg.own if name in strategies)
        if wanted:
            chosen.append(Leg(leg.name, wanted, leg.requirements, leg.package))
    return chosen
