"""From a RudderStack transformation's text to a script QuickJS runs as it is.

RudderStack transformations are ES modules (`export function transformEvent`); QuickJS would
keep a module's exports out of reach, so the `export` keywords are blanked out instead, in
place, so that every line and column an error names is the one the author wrote.
"""

import re

from .errors import ScriptError

# An export declaration at the start of a line: `export function`, `export default function`,
# `export const` and so on. Blanked, not removed, so the columns after it stay put.
_EXPORT = re.compile(
    r"^([ \t]*)(export[ \t]+(?:default[ \t]+)?)"
    r"(?=(?:async[ \t]+)?function\b|const\b|let\b|var\b|class\b)",
    re.MULTILINE,
)
_IMPORT = re.compile(r"^[ \t]*import[ \t{*\w]", re.MULTILINE)

MAX_CODE_CHARS = 100_000


def runnable(code: str) -> str:
    """The script QuickJS evaluates for `code`; ScriptError when it cannot be one."""
    if len(code) > MAX_CODE_CHARS:
        raise ScriptError(f"the code is {len(code):,} characters; at most {MAX_CODE_CHARS:,}")
    if found := _IMPORT.search(code):
        line = code.count("\n", 0, found.start()) + 1
        raise ScriptError(
            "imports are not available: a transformation is one self-contained script", line
        )
    return _EXPORT.sub(lambda m: m.group(1) + " " * len(m.group(2)), code)
