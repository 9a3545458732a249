"""Mapping-language expressions that kinds give their fields as defaults."""

from typing import Any


def path(text: str) -> dict[str, str]:
    return {"@path": text}


def path_or(first: str, *fallbacks: str) -> dict[str, Any]:
    """The value at the first of the paths that exists."""
    if not fallbacks:
        return path(first)
    return {"@if": {"exists": path(first), "then": path(first), "else": path_or(*fallbacks)}}
