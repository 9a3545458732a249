"""What one mapping makes of one event: the one decision the router, replays, Test mapping
and the transformation trial all take (docs/delivery.md, "Routing").

The event's integrations object, then the mapping's trigger, decide whether the mapping takes
it; the mapping's fields, through the action's schema, make its payload, or say why none can
be made. Asking here, and nowhere else, is what keeps Test mapping from showing something
the router does not do.
"""

from dataclasses import dataclass
from typing import Any

from .. import triggers
from ..integrations.base import Action
from ..models import Mapping
from .payloads import PayloadInvalid, prepare

INTEGRATIONS = "integrations"
TRIGGER = "trigger"
MAPPING_INVALID = "MAPPING_INVALID"


@dataclass(frozen=True)
class Route:
    """What routing needs of one enabled mapping, read once per router run.

    A mapping that cannot route (saved around validation, or an action an upgrade removed)
    carries its `problem` instead of a trigger: its events become failed deliveries that say
    why, to be replayed once it is fixed, and the other mappings route as usual.
    """

    mapping_id: int
    destination_id: int
    destination_name: str
    kind_name: str
    fields: dict[str, Any]
    keep_order: bool = False
    trigger: triggers.Trigger | None = None
    action: Action | None = None
    problem: str = ""

    @classmethod
    def of(cls, mapping: Mapping) -> "Route":
        destination = mapping.destination
        common = {
            "mapping_id": mapping.pk,
            "destination_id": destination.pk,
            "destination_name": destination.name,
            "fields": mapping.fields,
            "keep_order": destination.keep_order,
        }
        try:
            return cls(
                **common,
                kind_name=destination.kind_spec.name,
                trigger=triggers.parse(mapping.trigger),
                action=mapping.action_spec,
            )
        except (KeyError, triggers.TriggerSyntaxError) as error:
            problem = f"the mapping cannot route events: {error}"
            return cls(**common, kind_name=destination.kind, problem=problem)


@dataclass(frozen=True)
class Decision:
    allowed: bool = True  # by the event's integrations object
    matched: bool = True  # by the mapping's trigger (not asked of an event not allowed)
    payload: dict[str, Any] | None = None
    # Why a mapping that takes the event (or is made to) can make no payload of it.
    problem: PayloadInvalid | None = None

    @property
    def skipped(self) -> str:
        """Why the mapping takes nothing; empty when it takes the event."""
        if not self.allowed:
            return INTEGRATIONS
        return "" if self.matched else TRIGGER


def decide(
    route: Route, event: dict[str, Any], forced: bool = False, coercions: list[str] | None = None
) -> Decision:
    """What the mapping makes of `event`. `forced` makes the payload whatever the integrations
    object and the trigger say (a replay of a delivery made before, Test mapping), and still
    says what they said. `coercions`, when given, is told each string read as a number."""
    allowed = integrations_allow(event.get("integrations"), route)
    if not (allowed or forced):
        return Decision(allowed)
    matched = route.trigger is None or route.trigger.matches(event)
    if not (matched or forced):
        return Decision(allowed, matched)
    if route.problem:
        return Decision(allowed, matched, problem=PayloadInvalid(MAPPING_INVALID, route.problem))
    try:
        return Decision(allowed, matched, prepare(route.action, route.fields, event, coercions))
    except PayloadInvalid as problem:
        return Decision(allowed, matched, problem=problem)


def integrations_allow(integrations: Any, route: Route) -> bool:
    """Segment's integrations object: by destination name, then kind name, then "All"; only an
    explicit false turns a destination off (an object of options keeps it on)."""
    if not isinstance(integrations, dict):
        return True
    for name in (route.destination_name, route.kind_name):
        if name in integrations:
            return integrations[name] is not False
    return integrations.get("All", True) is not False
