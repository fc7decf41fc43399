"""Importing the package is cheap and safe before the app registry is ready."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def test_package_imports_before_django_setup_without_loading_the_library():
    code = textwrap.dedent(
        """
        import sys
        import drf_autoprefetch
        from drf_autoprefetch import PlanError, UnplannedQueryError, hints
        loaded = sorted(name for name in sys.modules if name.startswith("drf_autoprefetch"))
        print(loaded, "django.db.models" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == (
        "['drf_autoprefetch', 'drf_autoprefetch.exceptions', 'drf_autoprefetch.hinting'] False"
    )


def test_unknown_public_name_is_an_attribute_error():
    import drf_autoprefetch

    with pytest.raises(AttributeError) as excinfo:
        drf_autoprefetch.does_not_exist  # noqa: B018

    assert str(excinfo.value) == "module 'drf_autoprefetch' has no attribute 'does_not_exist'"
