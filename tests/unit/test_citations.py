"""The repository explains itself: what code, tests and docs cite is in the repository.

A citation of a page outside it (the notes the project was once planned from, a path on someone's machine)
fails here, and so does a ``docs/PAGE.md#anchor`` whose page or heading does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import ROOT

# Built from parts, so this file does not cite what it forbids.
OUTSIDE = re.compile("|".join([
    r"\bapis" + r"\.md", r"\bproduct" + r"\.md", r"\bstyle" + r"\.md", r"\bproduct" + " file",
    "/" + "work/", r"shared/" + "reference", r"\.\./" + "shared",
]), re.I)
DOC_CITATION = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
REPO_PATH = re.compile(r"(?<![\w/.-])((?:syncd|connectors|tests|bench|docs|systemd)/[\w/.-]*\w)")
PLACEHOLDERS = {"docs/page.md"}  # docs/README.md shows the citation format with it
MARKDOWN_LINK = re.compile(r"\]\((?!https?:|mailto:)([\w.-]+\.md)?(?:#([\w-]+))?\)")


def cited_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "config.example.toml", ROOT / "dev", ROOT / "pyproject.toml"]
    files += sorted((ROOT / "systemd").iterdir()) + sorted((ROOT / "docs").glob("*.md"))
    for folder in ("syncd", "connectors", "tests", "bench"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return [path for path in files if path.is_file()]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def outside_citations(text: str) -> list[str]:
    return [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in OUTSIDE.finditer(text)]


def broken_citations(text: str, here: Path) -> list[str]:
    """``docs/PAGE.md#anchor`` citations (and, in docs pages, relative links) that lead nowhere."""
    found = []
    targets = [(m.group(1), m.group(2), ROOT / "docs") for m in DOC_CITATION.finditer(text)]
    if here.parent == ROOT / "docs":
        targets += [(m.group(1) or here.name, m.group(2), here.parent) for m in MARKDOWN_LINK.finditer(text)]
    for name, anchor, folder in targets:
        page = folder / name
        if not page.is_file():
            found.append(f"{name}: no such page")
        elif anchor and anchor not in anchors(page):
            found.append(f"{name}#{anchor}: no such heading")
    return found


def test_nothing_cites_a_file_outside_the_repository() -> None:
    found = {str(path.relative_to(ROOT)): outside_citations(path.read_text(encoding="utf-8")) for path in cited_files()}
    assert {name: where for name, where in found.items() if where} == {}


def prose(path: Path) -> str:
    """The text whose citations count: in Markdown, inline code (a format shown, like `docs/page.md`) is left out."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"`[^`\n]*`", "", text) if path.suffix == ".md" else text


def test_every_docs_citation_leads_to_a_page_and_heading() -> None:
    found = {str(path.relative_to(ROOT)): broken_citations(prose(path), path)
             for path in cited_files() if path != Path(__file__)}
    assert {name: where for name, where in found.items() if where} == {}


def missing_paths(text: str) -> list[str]:
    """Repository paths named in ``text`` (``syncd/engine/due.py``, ``tests/unit/``) that do not exist."""
    named = {m.group(1) for m in REPO_PATH.finditer(text)} - PLACEHOLDERS
    return sorted(name for name in named if not (ROOT / name).exists())


def test_every_path_named_exists() -> None:
    found = {str(path.relative_to(ROOT)): missing_paths(path.read_text(encoding="utf-8"))
             for path in cited_files() if path != Path(__file__)}
    assert {name: where for name, where in found.items() if where} == {}


def test_the_rules_catch_what_they_forbid() -> None:
    assert outside_citations("see " + "apis" + ".md §1.4") != []
    assert outside_citations("(the " + "product" + " file, Cadence)") != []
    assert outside_citations("docs/gmail.md#quota") == []
    here = ROOT / "syncd" / "x.py"
    assert broken_citations("docs/gmail.md#quota", here) == []
    assert broken_citations("docs/gmail.md#no-such-heading", here) == ["gmail.md#no-such-heading: no such heading"]
    assert broken_citations("docs/nowhere.md", here) == ["nowhere.md: no such page"]
    assert slug("sd_notify") == "sd_notify" and slug("Quota and errors") == "quota-and-errors"
    assert missing_paths("see syncd/engine/due.py and syncd/engine.py") == ["syncd/engine.py"]
