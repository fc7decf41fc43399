"""The documentation names every setting and every check id the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drf_autoprefetch import checks
from drf_autoprefetch.conf import DEFAULTS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md")))


def check_ids() -> list[str]:
    source = Path(checks.__file__).read_text(encoding="utf-8")
    return sorted(set(re.findall(r'\bid=f"\{TAG\}\.([EW]\d{3})"', source)))


def test_check_ids_are_found_in_the_source():
    assert check_ids() == ["E001", "E002", "W001", "W002", "W003"]


@pytest.mark.parametrize("check_id", check_ids())
def test_every_check_id_is_documented(check_id):
    assert f"drf_autoprefetch.{check_id}" in docs_text()


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_setting_key_is_documented(key):
    assert f"`{key}`" in (DOCS / "settings.md").read_text(encoding="utf-8")


def test_every_page_is_in_the_table_of_contents():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    toctree = index[index.index("```{toctree}") :]
    pages = {path.stem for path in DOCS.glob("*.md")} - {"index"}
    assert sorted(page for page in pages if f"\n{page}\n" not in toctree) == []


def test_readme_links_work_on_the_package_index():
    """The package index shows the README alone: a relative link there leads nowhere."""
    import re

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", readme)

    assert [target for target in targets if not target.startswith(("https://", "#"))] == []
