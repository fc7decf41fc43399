"""Sphinx configuration for the drf_autoprefetch documentation.

Build with ``make docs`` (warnings are errors). Links into the Django and Python
documentation need their intersphinx inventories, which are downloaded at build
time; that is opt-in so that the build also works without a network:

    DOCS_INTERSPHINX=1 make docs
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# autodoc imports the package's modules; some of them need a configured Django.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import drf_autoprefetch  # noqa: E402

project = "drf_autoprefetch"
author = "drf_autoprefetch contributors"
copyright = "drf_autoprefetch contributors"
release = drf_autoprefetch.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_typehints = "description"
autodoc_member_order = "bysource"

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
if os.environ.get("DOCS_INTERSPHINX", "") not in ("", "0"):
    intersphinx_mapping = {
        "django": (
            "https://docs.djangoproject.com/en/stable/",
            "https://docs.djangoproject.com/en/stable/_objects/",
        ),
        "python": ("https://docs.python.org/3/", None),
    }
intersphinx_timeout = 10

html_theme = "furo"
html_title = f"drf_autoprefetch {release}"
