"""Mappings: how an event becomes the payload of a destination's action (docs/mapping-language.md).

A mapping's ``fields`` is a JSON object. Its raw JSON values are copied as they are;
its **directives** fetch and transform data from the event. A directive is an object
with a single ``@``-key (``^@[a-z][a-zA-Z0-9]+$``); a ``_metadata`` key beside it is
allowed and ignored, anything else beside it is an error. Directives nest anywhere::

    {
      "user_key": {"@if": {"exists": {"@path": "$.userId"},
                           "then": {"@path": "$.userId"},
                           "else": {"@path": "$.anonymousId"}}},
      "greeting": {"@template": "Hi {{traits.first_name}}!"},
      "kind": "custom"
    }

A value is either defined (any JSON value, ``null`` included) or **undefined** (a
missing path, or a directive with nothing to say). After rendering, object members
that are undefined are removed, ``null`` is kept, and an undefined array item becomes
``null`` (as ``JSON.stringify`` does). The semantics follow Segment's mapping-kit.

Paths
    ``$.properties.items[0].sku``; the leading ``$.`` is optional, ``$.`` alone is the
    whole payload, ``items.0`` is ``items[0]``, and keys may contain spaces
    (``$.integrations.Actions Amplitude.session_id``).

Directives
    Options that configure a directive (``operator``, ``pattern``, ``direction``,
    ``mode``, ``separator``...) are literal JSON; the data options (``value``,
    ``exists``, ``then``, ``objects``, ``apply``...) take any mapping value.

    ``{"@path": "$.a.b"}``
        The value at the path, undefined if missing. The path may also be given by a
        directive; a computed value that is not a valid path string is undefined.
    ``{"@template": "Hi {{traits.name}}"}``
        A string: ``{{path}}`` and ``{{{path}}}`` are replaced by the value at the path,
        with no HTML escaping; missing and null values give "", other values are
        written as JavaScript would (``3.0`` gives ``3``, ``true`` gives ``true``,
        objects and arrays give compact JSON).
    ``{"@literal": X}``
        X, resolved like any raw value (the way to emit a literal boolean or object).
    ``{"@if": {"exists": X, "then": A, "else": B}}``
        A when X is defined and not null, else B. With ``"blank": X`` instead, A when X
        is not blank: not undefined, null, "", 0 or false (nor an array that
        JavaScript's loose ``== ""`` also calls blank, such as ``[]``). A missing branch
        gives undefined; at least one branch is required.
    ``{"@case": {"operator": "lower" | "upper", "value": X}}``
        X lower- or upper-cased; a value that is not a string passes through.
    ``{"@replace": {"value": X, "pattern": "a", "replacement": "b", "pattern2": "c",
    "replacement2": "d", "global": true, "ignorecase": false}}``
        Literal (not regex) replacement in X, then of pattern2 in the result.
        ``replacement`` defaults to "", ``global`` (every occurrence) to true,
        ``ignorecase`` to false; a ``$`` in a replacement is not special. Numbers and
        booleans are written as JavaScript would first; any other value (missing, null,
        an object) gives "", as in Segment. Unlike Segment, patterns have no length cap.
    ``{"@arrayPath": ["$.properties.products", {"sku": {"@path": "$.product_id"}}]}``
        The array at the path; with an item shape, each item resolved against the shape,
        paths in the shape being relative to the item. An object where the array should
        be is taken as a one-item array. If the first element is a directive, its value
        is the array itself.
    ``{"@merge": {"objects": [A, B], "direction": "right" | "left"}}``
        Shallow merge of the objects (other values are skipped): with ``right`` later
        objects win, with ``left`` earlier ones do. A member that is undefined in the
        winning object removes the key, as in Segment.
    ``{"@transform": {"apply": A, "mapping": M}}``
        Resolve A against the payload, then M against A's result.
    ``{"@flatten": {"value": X, "separator": ".", "omitArrays": false}}``
        X as a one-level object whose keys join the nested keys with the separator;
        array items are keyed by index, unless ``omitArrays`` keeps arrays as values.
        As in Segment, any other X gives ``{"": X}``, and an undefined X gives ``{}``.
    ``{"@json": {"mode": "encode" | "decode", "value": X}}``
        X written as compact JSON (as ``JSON.stringify``), or a JSON string decoded; a
        string that is not valid JSON decodes to itself.
    ``{"@liquid": "{{ properties.name | upcase }}"}``
        A Liquid template (python-liquid; Shopify's Liquid dialect) over the payload,
        at most 1,000 characters. It is sandboxed: ``include`` and ``render`` are
        refused, and loops, variables, output and render time are bounded.
    ``{"@excludeWhenNull": X}``
        Undefined when X is null; when X is an object (or an array), a copy without the
        null members of its objects, at any depth. Objects left empty stay, as ``{}``;
        null array items stay, so that the other items keep their places.
    ``{"@hash": {"value": X, "algorithm": "sha256"}}``
        X trimmed, lower-cased and hashed with SHA-256 (hex). A value that already is a
        SHA-256 hex digest is returned as it is (trimmed and lower-cased), never hashed
        twice; "" stays "". Numbers and booleans are hashed as JavaScript writes them;
        null and undefined pass through; objects and arrays are an error.

API
    ``validate(fields)`` raises ``MappingError`` naming the JSON path of the first
    problem: ``fields.user_key.@if: unknown key 'exist'``.
    ``render(fields, event)`` returns the rendered payload. It raises ``MappingError``
    only for problems that depend on the event (``@json`` asked to encode a value JSON
    cannot hold, ``@hash`` given an object, a Liquid template failing), never for a
    missing path.
    ``js_text(value)`` writes a value as templates do (``3.0`` as ``"3"``) and
    ``json_type(value)`` names its JSON type, for the field-schema step after rendering.

Mappings are compiled once into nested closures and cached by their JSON text, so
rendering an already-seen mapping costs a few microseconds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

import orjson

from .base import MappingError, Resolver
from .compile import compile_fields
from .js import NotJsonError

__all__ = ["MappingError", "render", "validate"]

# Python-only values (dates, sets, subclasses) must not be turned into JSON by the cache
# key: such fields are compiled, and so rejected, without the cache.
_KEY_OPTIONS: Final = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def validate(fields: Any) -> None:
    """Raise ``MappingError`` if ``fields`` is not a valid field mapping."""
    # Never from the cache: its JSON key cannot tell a NaN from a null, or a tuple from
    # a list, and validation must reject what JSON cannot hold.
    compile_fields(fields)


def render(fields: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Render a field mapping against an event.

    For speed the result shares values with the event (``{"@path": "$.properties"}``
    gives the event's own dict): copy before mutating either.
    """
    resolve = _compiled(fields)
    try:
        payload: dict[str, Any] = resolve(event)
    except RecursionError:
        raise MappingError("fields", "the event is nested too deeply to be mapped") from None
    except NotJsonError as error:
        raise MappingError("fields", f"the event holds a value that is not JSON: {error}") from None
    return payload


def _compiled(fields: Any) -> Resolver:
    try:
        text = orjson.dumps(fields, option=_KEY_OPTIONS)
    except TypeError:
        return compile_fields(fields)
    return _compiled_from_text(text)


@lru_cache(maxsize=4096)
def _compiled_from_text(text: bytes) -> Resolver:
    """Compile the fields a JSON text holds; its key order is the payload's key order.

    Compiling from the text rather than from the caller's objects means no compiled
    mapping ever refers to objects the caller may later change.
    """
    return compile_fields(orjson.loads(text))
