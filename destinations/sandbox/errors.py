"""What went wrong in a script, in words its author can act on: the JavaScript message and
the line it came from."""

import re

# A frame of QuickJS's stack: "    at transformEvent (<input>:5:10)", or "    at <input>:1:14"
# for a syntax error.
_FRAME = re.compile(r"^\s*at (?:(?P<function>\S+) \()?<input>:(?P<line>\d+):\d+")
# The runner's own frames, which sit below the author's in every stack.
RUNNER_FUNCTIONS = frozenset({"__switchyard_run", "getMetadata"})


class Located(Exception):
    """A message, and where in the author's code (or in which library) it points."""

    def __init__(self, message: str, line: int | None = None, library: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.library = library

    def __str__(self) -> str:
        if not self.line:
            return self.message
        where = f" of library {self.library}" if self.library else ""
        return f"{self.message} (line {self.line}{where})"


class ScriptError(Located):
    """The code cannot become a transformation: a syntax error, an unknown library, no
    transformEvent."""


class TransformFailed(Located):
    """An event the script could not transform. `kind` is one of: error (the script threw),
    timeout, memory, result (it returned something that is not an event), paused."""

    def __init__(
        self, kind: str, message: str, line: int | None = None, library: str | None = None
    ) -> None:
        super().__init__(message, line, library)
        self.kind = kind


def parse_exception(text: str) -> tuple[str, int | None]:
    """The message and the author's line of a QuickJS exception's text (message, then stack).

    The innermost frame in the author's code gives the line: builtins ("at parse (native)")
    and the runner are skipped.
    """
    message, *stack = text.strip().split("\n")
    if message == "undefined" or not message:  # `throw undefined`, or a throw without a stack
        message = "the script threw undefined"
    for frame in stack:
        found = _FRAME.match(frame)
        if found and found["function"] not in RUNNER_FUNCTIONS:
            return message, int(found["line"])
    return message, None
