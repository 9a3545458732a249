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
    # What the events one event became may weigh, as JSON: each (the Tracking API's limit of a
    # message) and all together (its limit of a batch), so that a script cannot fill the
    # worker's memory with parts.
    max_event_bytes: int = 32 * 1024
    max_output_bytes: int = 500 * 1024


@dataclass(frozen=True)
class Output:
    events: list[dict[str, Any]]
    elapsed_ms: float
    size: int  # bytes of the events' JSON


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
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            text = self._run(_json(event), metadata, event.get("messageId"), self.limits.max_events)
        except quickjs.JSException as error:
            raise self._failure(error) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._check_time((time.thread_time() - cpu_started) * 1000)
        return Output(self._events(text), elapsed_ms, len(text))

    def _check_time(self, cpu_ms: float) -> None:
        """QuickJS interrupts JavaScript at its budget, but not a built-in it is inside (a
        JSON.stringify of a large global runs to its end): this thread's CPU clock counts
        that time too, and past the budget the event fails as the interrupt would fail it."""
        if cpu_ms > self.limits.cpu_ms:
            self._load()
            limit = f"its time limit ({self.limits.cpu_ms} ms of CPU per event)"
            raise TransformFailed("timeout", f"the transformation ran past {limit}")

    def _events(self, text: Any) -> list[dict[str, Any]]:
        """The runner's answer, checked here: the script can redefine anything the runner
        uses (JSON, Array), so nothing it says is taken on trust."""
        if not isinstance(text, str):
            raise TransformFailed("result", "the transformation's answer is not JSON text")
        if text.startswith("!"):
            raise TransformFailed("result", text[1:])
        if len(text) > self.limits.max_output_bytes:
            raise TransformFailed(
                "result",
                f"the events it returned weigh {len(text):,} bytes; "
                f"at most {self.limits.max_output_bytes:,} per event",
            )
        try:
            events = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise TransformFailed("result", "the transformation's answer is not JSON") from None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise TransformFailed("result", "the value transformEvent returned is not events")
        if len(events) > self.limits.max_events:
            raise TransformFailed(
                "result",
                f"transformEvent returned {len(events)} events; at most {self.limits.max_events}",
            )
        if len(text) > self.limits.max_event_bytes:  # else every event fits, and is not weighed
            for event in events:
                if (size := len(_json(event))) > self.limits.max_event_bytes:
                    raise TransformFailed(
                        "result",
                        f"an event it returned weighs {size:,} bytes; at most "
                        f"{self.limits.max_event_bytes:,}",
                    )
        return events

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
