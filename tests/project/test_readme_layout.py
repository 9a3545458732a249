"""The README's layout tree against the folders on disk, and its links into docs/
(docs/testing.md, "The documentation's own tests").

The tree is the fenced block under "## Code layout": one entry a line, a name then its
description, each level indented two spaces under a folder (a name ending in "/"). Every entry
must exist, and every package of the project's own top-level folders must be named, with its
sub-packages (deeper ones may be named, and then must exist too).
"""

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
README = ROOT / "README.md"
LAYOUT_HEADING = "## Code layout"
# The project's own top-level folders whose packages the tree must name.
TOP_LEVEL = ("project", "infra", "ingest", "tables", "warehouse", "destinations", "bench", "tests")
INDENT = 2
ENTRY = re.compile(r"(?P<indent> *)(?P<name>\S+)(?: {2,}(?P<description>\S.*))?")
LINK = re.compile(r"\]\((?P<target>[^)\s#]+)(?:#[^)]*)?\)")


def section(text: str, heading: str) -> str:
    """The text under `heading`, up to the next heading of its level."""
    after = text.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n## ", after, maxsplit=1)[0]


def layout_block(text: str) -> list[str]:
    """The lines of the first fenced block under the layout heading."""
    found = re.search(r"```\n(.*?)```", section(text, LAYOUT_HEADING), re.DOTALL)
    assert found, f"no fenced block under {LAYOUT_HEADING!r}"
    return found[1].splitlines()


def tree_entries(lines: list[str]) -> list[str]:
    """The paths the tree names, relative to the root: folders end in "/"."""
    entries: list[str] = []
    folders: list[str] = []  # the folder each level of indentation is in
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        entry = ENTRY.fullmatch(line)
        assert entry, f"layout line {number} is not `name  description`: {line!r}"
        assert entry["description"], f"layout line {number} names {entry['name']} without a word"
        depth, odd = divmod(len(entry["indent"]), INDENT)
        assert not odd, f"layout line {number} is indented by {len(entry['indent'])} spaces"
        assert depth <= len(folders), (
            f"layout line {number} is indented under no folder: {line.strip()!r}"
        )
        del folders[depth:]
        path = "".join(folders) + entry["name"]
        entries.append(path)
        if entry["name"].endswith("/"):
            folders.append(entry["name"])
    return entries


def missing_on_disk(entries: list[str], root: Path) -> list[str]:
    """Entries the disk does not have: a folder that is no folder, a file that is no file."""
    return [
        entry
        for entry in entries
        if not ((root / entry).is_dir() if entry.endswith("/") else (root / entry).is_file())
    ]


def packages(root: Path, top_level: tuple[str, ...]) -> list[str]:
    """Each top-level folder that is a package, and its packages one level down, as "a/b/"."""
    found = []
    for name in top_level:
        folder = root / name
        if not (folder / "__init__.py").is_file():
            continue
        found.append(f"{name}/")
        found += [
            f"{name}/{child.name}/"
            for child in sorted(folder.iterdir())
            if (child / "__init__.py").is_file()
        ]
    return found


def unnamed_packages(entries: list[str], root: Path, top_level: tuple[str, ...]) -> list[str]:
    return [package for package in packages(root, top_level) if package not in entries]


def readme_links(text: str) -> list[str]:
    """The README's relative links (web addresses apart)."""
    return [m["target"] for m in LINK.finditer(text) if "://" not in m["target"]]


def readme_entries() -> list[str]:
    return tree_entries(layout_block(README.read_text(encoding="utf-8")))


def test_every_folder_and_file_the_readme_tree_names_exists():
    entries = readme_entries()

    assert entries, "the layout tree names nothing"
    assert not missing_on_disk(entries, ROOT), "the README's layout names what is not there"


def test_every_package_of_the_top_level_folders_is_named_in_the_readme_tree():
    expected = packages(ROOT, TOP_LEVEL)

    assert "destinations/delivery/" in expected  # the walk finds sub-packages
    assert not unnamed_packages(readme_entries(), ROOT, TOP_LEVEL), (
        "add these packages to the README's layout tree"
    )


def test_a_renamed_folder_fails_both_checks(tmp_path):
    for package in ("app", "app/engine", "app/engine/parts"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").touch()
    (tmp_path / "app" / "services.py").touch()
    tree = [
        "app/            the app",
        "  services.py   what changes state",
        "  engine/       the engine",
        "    parts/      deeper packages may be named",
    ]
    entries = tree_entries(tree)
    assert entries == ["app/", "app/services.py", "app/engine/", "app/engine/parts/"]
    assert missing_on_disk(entries, tmp_path) == []
    assert unnamed_packages(entries, tmp_path, ("app",)) == []

    (tmp_path / "app" / "engine").rename(tmp_path / "app" / "engines")

    assert missing_on_disk(entries, tmp_path) == ["app/engine/", "app/engine/parts/"]
    assert unnamed_packages(entries, tmp_path, ("app",)) == ["app/engines/"]


def test_an_entry_indented_under_a_file_is_refused():
    try:
        tree_entries(["app.py  a file", "  inner/  under a file"])
    except AssertionError as error:
        assert "indented under no folder" in str(error)
    else:
        raise AssertionError("an entry under a file was accepted")


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    links = readme_links(README.read_text(encoding="utf-8"))
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}

    assert [link for link in links if not (ROOT / link).exists()] == []
    assert sorted(pages - set(links)) == [], "link these pages from the README's Where to read on"
