"""Transformations' JavaScript sandbox: RudderStack's `transformEvent(event, metadata)` run in
QuickJS, with a CPU budget per event and a memory cap per runtime. Pure Python: no Django."""

from .errors import ScriptError, TransformFailed
from .script import Limits, Output, Script

__all__ = ["Limits", "Output", "Script", "ScriptError", "TransformFailed"]
