"""The sandboxed Liquid engine behind the ``@liquid`` directive.

Templates come from operators but render untrusted event data, and one template must
never stall a worker. So the environment:

- has no loader, and refuses the ``include`` and ``render`` tags, so no template can
  read a file or another template;
- bounds loop iterations (nested loops multiply), the size of assigned variables and
  the size of the output, with python-liquid's own limits;
- refuses, in every filter, sequences longer than ``MAX_SEQUENCE_LENGTH`` (a range
  literal such as ``(1..1000000000)`` would otherwise be materialised by ``join``);
- checks a deadline before each filter call: loops, output and variables being bounded,
  filter calls are the only work that could otherwise add up. The deadline counts the
  rendering thread's CPU time, not the clock's: on a busy machine a preempted render of a
  sound template failed by the clock (seen in CI), and would fail its events in production.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable
from typing import Any, Final

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError, LiquidSyntaxError

__all__ = [
    "MAX_SEQUENCE_LENGTH",
    "MAX_TEMPLATE_LENGTH",
    "RENDER_DEADLINE_SECONDS",
    "LiquidProblem",
    "parse_liquid",
    "render_liquid",
]

MAX_TEMPLATE_LENGTH: Final = 1_000
MAX_SEQUENCE_LENGTH: Final = 10_000
RENDER_DEADLINE_SECONDS: Final = 0.25
_DISABLED_TAGS: Final = ("include", "render")

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("liquid_deadline")


class LiquidProblem(ValueError):
    """A template that does not parse, or that failed while rendering."""


class _RenderLimitError(LiquidError):
    """Raised from a filter when a render exceeds the sandbox's limits."""


class _SandboxedEnvironment(Environment):
    loop_iteration_limit = 10_000
    local_namespace_limit = 100_000
    output_stream_limit = 100_000

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        for tag in _DISABLED_TAGS:
            del self.tags[tag]
        self.filters = {name: _guarded(name, f) for name, f in self.filters.items()}


def _guarded(name: str, liquid_filter: Callable[..., Any]) -> Callable[..., Any]:
    # functools.wraps also copies the with_context/with_environment markers.
    @functools.wraps(liquid_filter)
    def guarded(value: Any, *args: Any, **kwargs: Any) -> Any:
        if time.thread_time() > _deadline.get(float("inf")):
            raise _RenderLimitError(
                f"render took longer than {RENDER_DEADLINE_SECONDS} s", token=None
            )
        if any(_too_long(argument) for argument in (value, *args)):
            raise _RenderLimitError(
                f"{name}: sequences are limited to {MAX_SEQUENCE_LENGTH} items", token=None
            )
        return liquid_filter(value, *args, **kwargs)

    return guarded


def _too_long(value: Any) -> bool:
    return isinstance(value, list | range | tuple) and len(value) > MAX_SEQUENCE_LENGTH


_ENVIRONMENT: Final = _SandboxedEnvironment()


@functools.lru_cache(maxsize=1024)
def parse_liquid(source: str) -> BoundTemplate:
    """Parse a template, checking its length, tags and filters; raise ``LiquidProblem``."""
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise LiquidProblem(
            f"templates are limited to {MAX_TEMPLATE_LENGTH} characters, this one has {len(source)}"
        )
    try:
        template = _ENVIRONMENT.from_string(source)
    except LiquidSyntaxError as error:
        raise LiquidProblem(_describe_syntax_error(error)) from None
    except LiquidError as error:
        raise LiquidProblem(_describe(error)) from None
    unknown = sorted(set(template.analyze().filters) - set(_ENVIRONMENT.filters))
    if unknown:
        raise LiquidProblem(f"unknown filter {unknown[0]!r}")
    return template


def render_liquid(template: BoundTemplate, payload: Any) -> str:
    """Render with the payload's keys as variables; raise ``LiquidProblem`` on failure."""
    token = _deadline.set(time.thread_time() + RENDER_DEADLINE_SECONDS)
    try:
        return template.render(payload if isinstance(payload, dict) else {})
    except LiquidError as error:
        raise LiquidProblem(_describe(error)) from None
    # Any failure of the engine on event data must surface as a mapping problem.
    except Exception as error:
        raise LiquidProblem(f"{type(error).__name__}: {error}") from None
    finally:
        _deadline.reset(token)


def _describe_syntax_error(error: LiquidSyntaxError) -> str:
    for tag in _DISABLED_TAGS:
        if error.message == f"unexpected tag '{tag}'":
            return f"the '{tag}' tag is disabled: templates cannot load other templates"
    return _describe(error)


def _describe(error: LiquidError) -> str:
    if error.token is None or error.token.start_index < 0:
        return str(error.message)
    return f"{error.message} at {error.token.start_index}"
