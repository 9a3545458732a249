"""The mapping language (docs/mapping-language.md), documented in `engine`. Code outside this
package imports only these names. The path syntax (`$.properties.items[0]`) is shared with the
triggers."""

from .engine import MappingError, render, validate
from .js import js_text, json_type
from .paths import UNDEFINED, Getter, Step, build_getter, make_step

__all__ = [
    "UNDEFINED",
    "Getter",
    "MappingError",
    "Step",
    "build_getter",
    "js_text",
    "json_type",
    "make_step",
    "render",
    "validate",
]
