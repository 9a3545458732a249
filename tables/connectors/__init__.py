from .base import ReadFailed, Result, Select, redact
from .registry import REGISTRY, connector_for

__all__ = ["REGISTRY", "ReadFailed", "Result", "Select", "connector_for", "redact"]
