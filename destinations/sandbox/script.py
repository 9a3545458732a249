"""One transformation's code, loaded once in a QuickJS runtime of its own and run per event.

The runtime is the sandbox: it has JavaScript's built-ins and nothing of the host (no
`require`, `fetch`, `process`, files or network), a memory cap the allocator enforces, and a
CPU budget per call after which QuickJS interrupts the script with an error no `catch` can
take. Its globals live on between events, as in RudderStack's reused isolates; after a time
or memory overrun the runtime is loaded afresh, as its state is then anyone's guess.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import quickjs

from .code import runnable
from .errors import ScriptError, TransformFailed, parse_exception
from .libraries import library_script, located


@dataclass(frozen=True)
class Limits:
    cpu_ms: int = 50
    memory_mb: int = 64
    # The script's top level runs once per load; a lookup table built there may take longer.
    load_ms: int = 1000
    # One event may become this many, at most.
    max_events: int = 1000


@dataclass(frozen=True)
class Output:
    events: list[dict[str, Any]]
    elapsed_ms: float


STACK_BYTES = 1 << 20
PRELUDE = (Path(__file__).parent / "prelude.js").read_text()
RUNNER = (Path(__file__).parent / "runner.js").read_text()

INTERRUPTED = "InternalError: interrupted"
OUT_OF_MEMORY = "InternalError: out of memory"


class Script:
    """A transformation ready to run. Not thread-safe: one per thread or process."""

    def __init__(
        self, code: str, limits: Limits | None = None, libraries: Mapping[str, str] | None = None
    ) -> None:
        """`libraries`: the code of each library the script may import, by import name."""
        self.code = code
        self.limits = limits or Limits()
        self.libraries = dict(libraries or {})
        self._load()

    def _load(self) -> None:
        context = quickjs.Context()
        context.set_memory_limit(self.limits.memory_mb << 20)
        context.set_max_stack_size(STACK_BYTES)
        context.eval(PRELUDE)
        context.set_time_limit(self.limits.load_ms / 1000)
        script, self._imported = runnable(self.code, self.libraries)
        try:
            context.eval(library_script(self._imported, self.libraries))
            context.eval(script)
            defined = context.eval("typeof transformEvent")
            batch = context.eval("typeof transformBatch")
        except quickjs.JSException as error:
            raise ScriptError(*self._explain(error)) from None
        if defined != "function" and batch == "function":
            # Events are transformed as the router meets them, never gathered into batches.
            raise ScriptError(
                "transformBatch is not available: write transformEvent(event, metadata)"
            )
        if defined != "function":
            raise ScriptError("the code defines no function transformEvent(event, metadata)")
        context.eval(RUNNER)
        context.set_time_limit(self.limits.cpu_ms / 1000)
        self._run = context.get("__switchyard_run")
        self._logs = context.get("__switchyard_logs")

    def transform(self, event: dict[str, Any], metadata: str | dict[str, Any]) -> Output:
        """What the script makes of `event`: none, one or several events. TransformFailed
        when it throws, overruns a limit or returns something that is not an event.

        `metadata` is what the script's metadata(event) returns, messageId apart (it is the
        event's); a caller with many events passes it as JSON text once made."""
        if not isinstance(metadata, str):
            metadata = _json(metadata)
        started = time.perf_counter()
        try:
            text = self._run(_json(event), metadata, event.get("messageId"), self.limits.max_events)
        except quickjs.JSException as error:
            raise self._failure(error) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if text.startswith("!"):
            raise TransformFailed("result", text[1:])
        return Output(orjson.loads(text), elapsed_ms)

    @property
    def imported(self) -> list[str]:
        """The import names of the libraries the script imports, in order."""
        return list(self._imported)

    def logs(self) -> list[str]:
        """What the last event's run wrote with console.log or log()."""
        return orjson.loads(self._logs())

    def _failure(self, error: quickjs.JSException) -> TransformFailed:
        message, *where = self._explain(error)
        if message == INTERRUPTED:
            self._load()
            limit = f"its time limit ({self.limits.cpu_ms} ms of CPU per event)"
            return TransformFailed("timeout", f"the transformation was stopped at {limit}", *where)
        if message == OUT_OF_MEMORY:
            self._load()
            limit = f"its memory limit ({self.limits.memory_mb} MB)"
            return TransformFailed("memory", f"the transformation was stopped at {limit}", *where)
        return TransformFailed("error", message, *where)

    def _explain(self, error: quickjs.JSException) -> tuple[str, int | None, str | None]:
        message, line = parse_exception(str(error))
        return message, *located(line, self._imported)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
