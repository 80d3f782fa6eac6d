"""The README and docs/: a short README that opens with the two commands; real links and tests.

Pure: reads Markdown files, no services.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOC_FILES = ("design.md", "tables.md", "operations.md", "chaos.md", "performance.md")
# Tests, the Makefile and CI refer to the README's opening: the two commands, as they are.
OPENING = "\n".join(
    [
        "# superhero-dataflow",
        "",
        "```bash",
        "make demo   # start Kafka + Redis, simulate ~300 matches, materialize every asset,"
        " print the tables",
        "make test   # create .venv, install everything, start the test stack, run ruff + pytest,"
        " stop the stack",
        "```",
        "",
    ]
)
README_MAX_BYTES = 12_000

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_TEST_FILE = re.compile(r"tests/(?:\w+/)?test_\w+\.py")
_TEST_NAME = re.compile(r"`(test_\w+)`")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = _FENCE.sub("", page.read_text())
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_the_readme_is_short_and_opens_with_the_two_commands():
    assert README.read_text().startswith(OPENING)
    assert README.stat().st_size < README_MAX_BYTES, README.stat().st_size


@pytest.mark.parametrize("name", DOC_FILES)
def test_docs_holds_each_page(name):
    assert (DOCS / name).is_file(), name


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page):
    text = _FENCE.sub("", page.read_text())
    for target in _LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name} links to {target}"


def test_every_test_named_in_the_readme_and_docs_exists():
    texts = {page: page.read_text() for page in _pages()}
    defined = {
        name
        for test_file in (ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^def (test_\w+)\(", test_file.read_text(), re.M)
    }
    for page, text in texts.items():
        for named in _TEST_FILE.findall(text):
            assert (ROOT / named).is_file(), f"{page.name} names {named}"
        for name in _TEST_NAME.findall(text):
            assert name in defined, f"{page.name} names {name}"
