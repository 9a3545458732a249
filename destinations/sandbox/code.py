"""From a RudderStack transformation's text to a script QuickJS runs as it is.

RudderStack transformations are ES modules (`export function transformEvent`); QuickJS would
keep a module's exports out of reach, so the `export` keywords are blanked out instead, in
place, and imports of libraries become destructurings on their own lines (libraries.py), so
that every line an error names is the one the author wrote.
"""

import re
from collections.abc import Mapping

from .errors import ScriptError
from .libraries import imports

# An export declaration at the start of a line: `export function`, `export default function`,
# `export const` and so on. Blanked, not removed, so the columns after it stay put.
_EXPORT = re.compile(
    r"^([ \t]*)(export[ \t]+(?:default[ \t]+)?)"
    r"(?=(?:async[ \t]+)?function\b|const\b|let\b|var\b|class\b)",
    re.MULTILINE,
)

MAX_CODE_CHARS = 100_000


def runnable(code: str, libraries: Mapping[str, str]) -> tuple[str, list[str]]:
    """The script QuickJS evaluates for `code`, and the libraries it imports; ScriptError
    when it cannot be one."""
    if len(code) > MAX_CODE_CHARS:
        raise ScriptError(f"the code is {len(code):,} characters; at most {MAX_CODE_CHARS:,}")
    code, used = imports(code, libraries)
    return _EXPORT.sub(lambda m: m.group(1) + " " * len(m.group(2)), code), used
