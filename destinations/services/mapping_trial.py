"""Trying a mapping on one event (docs/destinations.md, "Test mapping") and checking a connection.

`dry_run` explains the trigger condition by condition and builds the exact request the
mapping would send, without sending it. `send_test_event` really sends that one event and
reports the destination's answer. Neither writes a Delivery or an attempt, and every URL,
header, body and message they return has the destination's credentials masked.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from infra.encryption import SecretsUnreadable

from .. import triggers
from ..delivery.decisions import Route, decide
from ..delivery.exchanges import (
    Sent,
    ShownExchange,
    ShownRequest,
    attempt_record,
    redact_text,
    shown_request,
)
from ..delivery.payloads import PayloadInvalid
from ..delivery.transport import send_batch
from ..integrations.base import Config
from ..models import Destination, Mapping
from .destinations import ConnectionCheck, check_connection


@dataclass(frozen=True)
class DryRun:
    # ConditionResult.to_dict() of each leaf condition, plus the value found as JSON text.
    conditions: list[dict[str, Any]]
    matched: bool
    integrations_allowed: bool
    payload: dict[str, Any] | None = None
    requests: list[ShownRequest] = field(default_factory=list)
    # Why no request can be built for this event, e.g. "PAYLOAD_VALIDATION_FAILED: ...".
    problem: str = ""
    # One line per string the schema read as a number or boolean: it is sent as a number.
    coercions: list[str] = field(default_factory=list)

    @property
    def pretty_payload(self) -> str:
        return json.dumps(self.payload, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class SentTestEvent:
    dry_run: DryRun
    responses: list[ShownExchange]


def dry_run(mapping: Mapping, event: dict[str, Any]) -> DryRun:
    """What the mapping makes of `event`: the trigger's verdict and the request, unsent. The
    payload is made whatever the verdict, as the router would make it were it taken."""
    coercions: list[str] = []
    decision = decide(Route.of(mapping), event, forced=True, coercions=coercions)
    verdict = {
        "conditions": [shown_condition(c) for c in triggers.explain(mapping.trigger, event)],
        "matched": decision.matched,
        "integrations_allowed": decision.allowed,
    }
    if decision.problem:
        problem = describe_problem(decision.problem)
        return DryRun(**verdict, problem=problem, coercions=coercions)
    try:
        config = mapping.destination.config()
        built = mapping.action_spec.build(config, [decision.payload])
    except (PayloadInvalid, KeyError, SecretsUnreadable) as problem:
        return DryRun(**verdict, problem=describe_problem(problem), coercions=coercions)
    requests = [shown_request(r, config.secret_values) for r in built]
    return DryRun(**verdict, payload=decision.payload, requests=requests, coercions=coercions)


def send_test_event(mapping: Mapping, event: dict[str, Any]) -> SentTestEvent:
    """Send the event through the mapping now, whatever the trigger says (the operator asked
    for it), and return the answers; nothing is recorded, as nothing was routed. A kind with
    a test mode is sent in it."""
    preview = dry_run(mapping, event)
    if preview.payload is None:
        return SentTestEvent(preview, [])
    config = mapping.destination.config()
    sent = send_batch(mapping.action_spec.for_test(), config, [preview.payload])
    return SentTestEvent(preview, [shown_response(item, config) for item in sent])


def connection_verdict(destination: Destination) -> ConnectionCheck:
    """check_connection, with the verdict's text masked: it may quote a URL or an answer."""
    try:
        config = destination.config()
    except SecretsUnreadable as problem:
        return ConnectionCheck(False, str(problem))
    check = check_connection(destination)
    return ConnectionCheck(check.ok, redact_text(check.message, config.secret_values))


def shown_response(item: Sent, config: Config) -> ShownExchange:
    # The attempt log's own redaction, so a test send hides exactly what the log hides.
    record = attempt_record(item, config.secret_values)
    verdict = item.results[0]  # one event: one item, judged as the dispatcher would
    return ShownExchange.of(
        record,
        outcome=verdict.outcome.value,
        error_code=verdict.code,
        error_message=verdict.message,
    )


def shown_condition(condition: triggers.ConditionResult) -> dict[str, Any]:
    value = json.dumps(condition.value, ensure_ascii=False) if condition.found else ""
    return condition.to_dict() | {"value_json": value}


def describe_problem(problem: Exception) -> str:
    if isinstance(problem, PayloadInvalid):
        return f"{problem.code}: {problem.message}"
    if isinstance(problem, KeyError):
        # A missing setting, or an action the kind no longer has.
        return f"the request cannot be built: {problem.args[0]}"
    return str(problem)
