"""The catalog (docs/destinations.md, "The catalog"): one module per destination kind, listed in
`registry`."""

from .registry import KINDS, REGISTRY, get_kind

__all__ = ["KINDS", "REGISTRY", "get_kind"]
