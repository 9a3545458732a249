"""JavaScript's views of JSON values, so mappings render as they do in Segment.

Segment's mapping-kit runs on JavaScript; where a mapping turns a value into text (or
asks whether it is blank), we follow JavaScript's rules rather than Python's:
``3.0`` is ``"3"``, ``True`` is ``"true"``, ``1e21`` is ``"1e+21"``.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring
from typing import Any, Final

from .paths import UNDEFINED

__all__ = ["NotJsonError", "is_blank", "js_json", "js_number", "js_text", "json_type"]


class NotJsonError(TypeError):
    """A value that JSON cannot hold (a set, a date, an object with a non-string key)."""


# Below 2**53 every integral float is an exact integer with exactly those digits.
_EXACT_INTEGERS: Final = 2.0**53
_EXPONENT_FROM: Final = 21
_PLAIN_DECIMALS_FROM: Final = -6


def js_number(value: int | float) -> str:
    """Format a number as JavaScript's ``String(number)`` does."""
    if isinstance(value, int):
        if -(10**_EXPONENT_FROM) < value < 10**_EXPONENT_FROM:
            return str(value)
        value = _int_as_double(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < _EXACT_INTEGERS:
        return str(int(value))
    sign = "-" if value < 0 else ""
    return sign + _layout(*_shortest_digits(abs(value)))


def _int_as_double(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _shortest_digits(value: float) -> tuple[str, int]:
    """Return (digits, n) such that value = 0.digits * 10**n, digits without zeros at the ends.

    Python's repr and JavaScript both print the shortest digit string that reads back
    as the same double, so we reuse repr's digits and only change the layout.
    """
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    trailing_zeros = len(digits) - len(digits.rstrip("0"))
    digits = digits.rstrip("0")
    n = int(exponent or 0) - len(fraction) + trailing_zeros + len(digits)
    return digits, n


def _layout(digits: str, n: int) -> str:
    """Lay digits out as ECMAScript's Number::toString does."""
    k = len(digits)
    if k <= n <= _EXPONENT_FROM:
        return digits + "0" * (n - k)
    if 0 < n <= _EXPONENT_FROM:
        return f"{digits[:n]}.{digits[n:]}"
    if _PLAIN_DECIMALS_FROM < n <= 0:
        return "0." + "0" * -n + digits
    exponent = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def js_json(value: Any) -> str:
    """Serialise like JavaScript's ``JSON.stringify``: compact, JavaScript numbers.

    Raises ``NotJsonError`` for a value JSON cannot hold.
    """
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value) if math.isfinite(value) else "null"
    if isinstance(value, dict):
        return "{" + ",".join(_json_members(value)) + "}"
    if isinstance(value, list):
        return (
            "[" + ",".join("null" if item is UNDEFINED else js_json(item) for item in value) + "]"
        )
    raise NotJsonError(f"a {type(value).__name__} cannot be written as JSON")


def _json_members(obj: dict[Any, Any]) -> list[str]:
    members = []
    for key, item in obj.items():
        if not isinstance(key, str):
            raise NotJsonError(f"object keys must be strings, not {type(key).__name__}")
        if item is not UNDEFINED:
            members.append(f"{encode_basestring(key)}:{js_json(item)}")
    return members


def js_text(value: Any) -> str:
    """Turn a value into text for a template or a replacement.

    Strings are as they are, numbers and booleans as JavaScript prints them, objects and
    arrays as compact JSON; missing and null values are empty.
    """
    if isinstance(value, str):
        return value
    if value is None or value is UNDEFINED:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    return js_json(value)


_JSON_TYPES: Final = ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"))


def json_type(value: Any) -> str:
    """Name a value's JSON type (null, boolean, number, string, array or object)."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def is_blank(value: Any) -> bool:
    """Whether ``@if`` considers a value blank: undefined, null, or loosely equal to "".

    JavaScript's ``value == ""`` holds for "", 0, false, and for arrays whose items join
    into an empty string ([], [null], [""], [[]]).
    """
    if value is None or value is UNDEFINED:
        return True
    if isinstance(value, str):
        return not value
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, list):
        return _joins_to_empty(value)
    return False


def _joins_to_empty(items: list[Any]) -> bool:
    if not items:
        return True
    if len(items) > 1:
        return False
    only = items[0]
    if isinstance(only, list):
        return _joins_to_empty(only)
    return only is None or only is UNDEFINED or only == ""
