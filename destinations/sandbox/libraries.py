"""RudderStack's transformation libraries: `import { maskEmail } from "piiTools"`.

QuickJS has no module loader here, so each library a script imports runs before it, inside a
function that returns its exports, and each import statement becomes, on its own lines, a
destructuring of that object. A library's lines are numbered from a band of its own (BAND
lines apart), so that an error inside a library names the library and its line.
"""

import re
from collections.abc import Mapping

from .errors import ScriptError

BAND = 100_000

# Anywhere a statement may start: several imports may share a line.
_IMPORT = re.compile(
    r"""(?<![\w$.])import\s+(?P<what>\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)\s+"""
    r"""from\s+(?P<quote>["'])(?P<handle>[^"']+)(?P=quote)[ \t]*;?""",
)
_ANY_IMPORT = re.compile(r"^[ \t]*import[ \t{*\w]", re.MULTILINE)
_DECLARED_EXPORT = re.compile(
    r"^([ \t]*)(export[ \t]+)(?=(?:async[ \t]+)?function\b|const\b|let\b|var\b|class\b)"
    r"(?:async[ \t]+)?(?:function\*?|const|let|var|class)[ \t]*(?P<name>[\w$]+)",
    re.MULTILINE,
)
_DEFAULT_EXPORT = re.compile(r"^([ \t]*)export[ \t]+default[ \t]+", re.MULTILINE)
_EXPORT_LIST = re.compile(r"^([ \t]*)export[ \t]*\{(?P<names>[^}]*)\}[ \t]*;?", re.MULTILINE)
DEFAULT = "__switchyard_default"


def imports(code: str, libraries: Mapping[str, str]) -> tuple[str, list[str]]:
    """`code` with its imports turned into destructurings of the libraries' exports, and the
    handles it imports, in order; ScriptError for a handle no library has."""
    used: list[str] = []

    def destructure(found: re.Match) -> str:
        handle, what = found["handle"], found["what"]
        if handle not in libraries:
            line = code.count("\n", 0, found.start()) + 1
            raise ScriptError(f'no library is imported as "{handle}"', line)
        if handle not in used:
            used.append(handle)
        source = f'__switchyard_libs["{handle}"]'
        if what.startswith("{"):
            names = re.sub(r"\s+as\s+", ": ", " ".join(what.split()))
            binding = f"const {names} = {source};"
        elif what.startswith("*"):
            binding = f"const {what.split()[-1]} = {source};"
        else:
            binding = f"const {what} = {source}.default;"
        # As many lines as the statement had, so that the author's lines keep their numbers.
        return binding + "\n" * found.group(0).count("\n")

    rewritten = _IMPORT.sub(destructure, code)
    if leftover := _ANY_IMPORT.search(rewritten):
        line = rewritten.count("\n", 0, leftover.start()) + 1
        raise ScriptError("this form of import is not available", line)
    return rewritten, used


def library_script(handles: list[str], libraries: Mapping[str, str]) -> str:
    """The script that defines `__switchyard_libs[handle]` for each handle, library n's first
    line numbered (n + 1) * BAND + 1."""
    parts = ["globalThis.__switchyard_libs = {};"]
    for number, handle in enumerate(handles, 1):
        code = libraries[handle]
        if _ANY_IMPORT.search(code):
            raise ScriptError(f'library "{handle}" imports another: libraries cannot')
        body, exports = exported(code)
        lines_so_far = sum(part.count("\n") + 1 for part in parts)
        padding = "\n" * (number * BAND - lines_so_far - 1)
        members = ", ".join(f"{alias}: {name}" for alias, name in exports.items())
        opening = f'{padding}__switchyard_libs["{handle}"] = (() => {{'
        parts.append(f"{opening}\n{body}\nreturn {{{members}}};\n}})();")
    return "\n".join(parts)


def exported(code: str) -> tuple[str, dict[str, str]]:
    """The library's code without its `export` keywords, and its exports: alias → name."""
    exports: dict[str, str] = {}

    def declaration(found: re.Match) -> str:
        exports[found["name"]] = found["name"]
        return found.group(0).replace(found.group(2), " " * len(found.group(2)), 1)

    def listed(found: re.Match) -> str:
        for item in filter(None, (part.strip() for part in found["names"].split(","))):
            name, _, alias = item.partition(" as ")
            exports[(alias or name).strip()] = name.strip()
        return found.group(1)

    body = _DECLARED_EXPORT.sub(declaration, code)
    body = _EXPORT_LIST.sub(listed, body)
    if _DEFAULT_EXPORT.search(body):
        body = _DEFAULT_EXPORT.sub(lambda m: f"{m.group(1)}const {DEFAULT} = ", body, count=1)
        exports["default"] = DEFAULT
    return body, exports


def located(line: int | None, handles: list[str]) -> tuple[int | None, str | None]:
    """An error's line as (line, library handle): a line in a library's band is that
    library's own."""
    if line is None or line <= BAND:
        return line, None
    band = line // BAND
    if 1 <= band <= len(handles):
        return line - band * BAND, handles[band - 1]
    return line, None
