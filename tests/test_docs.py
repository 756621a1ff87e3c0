"""The README is a front door that stays small, and the documentation's links lead somewhere."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_LIMIT = 14_336  # bytes; aim for 12 KB and move tours, write-ups and figures into docs/

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(markdown: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


def links(path: pathlib.Path) -> list[str]:
    return LINK.findall(prose(path.read_text()))


def anchors(path: pathlib.Path) -> set[str]:
    """GitHub's ids for the headings of a Markdown file."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", re.sub(r"^```.*?^```", "", path.read_text(),
                                                       flags=re.S | re.M), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_a_front_door():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes: move detail into docs/"


def test_the_readme_shows_the_commands_and_where_the_api_is_described():
    text = README.read_text()
    for needle in ("make run", "make test", "make api-key ROLE=", "GET /openapi.json", "GET /docs"):
        assert needle in text, needle


def test_the_readme_says_why_each_direct_dependency_is_there():
    section = README.read_text().split("## Dependencies", 1)[1].split("\n## ", 1)[0].lower()
    names = [re.split(r"[=<>~! \[]", line, maxsplit=1)[0]
             for line in (ROOT / "requirements.in").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert names
    assert [name for name in names if name.lower() not in section] == []


def test_benchmark_figures_live_only_in_docs_benchmarks():
    text = prose(README.read_text())
    for unit in ("p50", "p99", "req/s", "µs", " ms"):
        assert unit not in text, unit


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_an_existing_file_and_heading(path):
    found = links(path)
    for link in found:
        if re.match(r"[a-z][a-z0-9+.-]*:", link):
            assert path != README, f"README.md links outside the repository: {link}"
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        assert resolved.is_relative_to(ROOT), f"{link} leads outside the repository"
        assert resolved.exists(), f"{link} in {path.name}: no such file"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{link} in {path.name}: no such heading"


def test_the_readme_links_into_every_document():
    linked = {(README.parent / link.partition("#")[0]).resolve() for link in links(README)}
    assert DOCS and [doc.name for doc in DOCS if doc not in linked] == []
