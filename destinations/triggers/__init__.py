"""The trigger language (docs/trigger-language.md), documented in `engine`. Code outside this
package imports only these names."""

from .engine import ConditionResult, Trigger, TriggerSyntaxError, explain, matches, parse

__all__ = ["ConditionResult", "Trigger", "TriggerSyntaxError", "explain", "matches", "parse"]
