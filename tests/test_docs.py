"""README and docs cannot drift from the repository: every relative link points at a file that
exists, every configuration file is in README's table, and every `make` target named exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def broken_links(path: Path) -> list[str]:
    """Relative links of a markdown file whose target does not exist."""
    return [
        target
        for target in LINK.findall(path.read_text())
        if "://" not in target and not (path.parent / target).exists()
    ]


def test_every_relative_link_exists():
    broken = {str(p.relative_to(REPO)): broken_links(p) for p in DOCS}
    assert not {k: v for k, v in broken.items() if v}


def test_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("see [this](missing.md) and [that](https://example.org/x.md)")
    assert broken_links(page) == ["missing.md"]


def test_every_configuration_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text()
    configs = sorted(p.name for p in (REPO / "config").glob("*.yaml") if p.name != "schema.yaml")
    assert [name for name in configs if f"`config/{name}`" not in readme] == []


def test_every_make_target_named_exists():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", "\n".join(p.read_text() for p in DOCS)))
    named -= {"bench"} if "bench" in targets else set()
    assert sorted(named - targets) == []
