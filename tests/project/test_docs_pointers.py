"""Pointers into docs/ hold (docs/testing.md, "The documentation's own tests").

Code, tests and configuration point at the page and heading that hold a fact, as
`(docs/delivery.md, "Retries")`; the pages point at each other as `[delivery.md](delivery.md),
"Retries"` and name the modules that implement what they describe. A pointer to a heading that
was renamed, or a module that moved, fails here, naming it.
"""

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DOCS = ROOT / "docs"
# Where pointers into docs/ may be written.
SCANNED = (
    *("project", "infra", "ingest", "tables", "warehouse", "destinations", "bench", "tests"),
    "templates",
)
SCANNED_FILES = ("Makefile", "pyproject.toml", ".env.example", "README.md")
SUFFIXES = {".py", ".html", ".txt", ".toml", ".md", ".js", ".lua"}
# A page, and maybe a heading or two ("A" and "B"), which may go on the next line of a comment.
CODE_POINTER = re.compile(
    r'docs/(?P<page>[\w-]+\.md)(?:,\s*(?:#\s*)?"(?P<heading>[^"\n]+)"'
    r'(?:\s+and\s+(?:#\s*)?"(?P<second>[^"\n]+)")?)?'
)
# [page.md](page.md), "Heading" inside docs/.
PAGE_POINTER = re.compile(r'\]\((?P<page>[\w-]+\.md)\)(?:,\s*"(?P<heading>[^"\n]+)")?')
# `destinations/delivery/routing.py`, `tables/connectors/`: a path from the root, in backticks.
CODE_PATH = re.compile(
    r"`(?P<path>(?:project|infra|ingest|tables|warehouse|destinations|bench|tests|templates|docs)/"
    r"[\w./-]*)`"
)
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
# What the benchmarks write as they run: named, but not in the repository.
WRITTEN_BY_RUNS = ("bench/results/",)


def headings(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")}


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for folder in SCANNED:
        files += [
            path
            for path in sorted((ROOT / folder).rglob("*"))
            if path.suffix in SUFFIXES and "node_modules" not in path.parts and path.is_file()
        ]
    return files


def broken(pointers: list[tuple[str, str, str | None]]) -> list[str]:
    """(where, page, heading) pointers whose page or heading does not exist."""
    problems = []
    for where, page, heading in pointers:
        path = DOCS / page
        if not path.is_file():
            problems.append(f"{where}: docs/{page} does not exist")
        elif heading and heading not in headings(path):
            problems.append(f'{where}: docs/{page} has no heading "{heading}"')
    return problems


def test_every_pointer_in_the_code_names_a_page_and_heading_that_exist():
    pointers = []
    for path in scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(ROOT)
        for found in CODE_POINTER.finditer(text):
            pointers += [(str(where), found["page"], found["heading"])]
            if found["second"]:
                pointers += [(str(where), found["page"], found["second"])]

    assert len(pointers) > 50  # the scan reaches the code
    assert broken(pointers) == []


def test_every_pointer_between_pages_names_a_page_and_heading_that_exist():
    pointers = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        pointers += [(page.name, m["page"], m["heading"]) for m in PAGE_POINTER.finditer(text)]

    assert pointers
    assert broken(pointers) == []


def test_every_code_path_a_page_names_exists():
    named = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        named += [(page.name, m["path"]) for m in CODE_PATH.finditer(text)]

    assert named
    missing = [
        f"{page}: {path}"
        for page, path in named
        if not (ROOT / path).exists() and not path.startswith(WRITTEN_BY_RUNS)
    ]
    assert missing == []
