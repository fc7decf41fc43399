"""A URLconf that alone imports an ``@auto_prefetch`` serializer.

Nothing else in the suite imports these modules: discovery must find the serializer
by importing the URLconf before it reads the registry.
"""

from __future__ import annotations

import sys

import pytest

URLCONF = "tests.urls_only.urls"
SERIALIZER = "tests.urls_only.views.ChapterTitleSerializer"


def forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next URL resolution import the URLconf and its views afresh."""
    package = sys.modules[__name__]
    for name in ("urls", "views"):
        monkeypatch.delitem(sys.modules, f"{__name__}.{name}", raising=False)
        monkeypatch.delattr(package, name, raising=False)
