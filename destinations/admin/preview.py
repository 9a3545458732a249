"""Trying a mapping on one event (docs/destinations.md, "Test mapping") and checking a connection.

`dry_run` explains the trigger condition by condition and builds the exact request the
mapping would send, without sending it. `send_test_event` really sends that one event and
reports the destination's answer. Neither writes a Delivery or an attempt, and every URL,
header, body and message they return has the destination's credentials masked.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from infra.encryption import SecretsUnreadable

from .. import triggers
from ..delivery.attempts import attempt_record, redact_headers
from ..delivery.payloads import PayloadInvalid, prepare
from ..delivery.routing import Route, integrations_allow
from ..delivery.transport import USER_AGENT, Sent, redact_text, send_batch
from ..integrations.base import Config, Request
from ..models import Destination, Mapping
from ..services import ConnectionCheck, check_connection


@dataclass(frozen=True)
class ShownRequest:
    """A request as a page may show it: credentials masked, the body exactly as sent."""

    method: str
    url: str
    headers: dict[str, str]
    body: str

    @property
    def pretty_body(self) -> str:
        return pretty_json_text(self.body)


@dataclass(frozen=True)
class ShownResponse:
    request: ShownRequest
    outcome: str
    status: int | None
    headers: dict[str, str]
    body: str
    error_code: str
    error_message: str
    duration_ms: int

    @property
    def pretty_body(self) -> str:
        return pretty_json_text(self.body)


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
    responses: list[ShownResponse]


def dry_run(mapping: Mapping, event: dict[str, Any]) -> DryRun:
    """What the mapping makes of `event`: the trigger's verdict and the request, unsent."""
    verdict = {
        "conditions": [shown_condition(c) for c in triggers.explain(mapping.trigger, event)],
        "matched": triggers.matches(mapping.trigger, event),
        "integrations_allowed": integrations_allow(event.get("integrations"), Route.of(mapping)),
    }
    coercions: list[str] = []
    try:
        config = mapping.destination.config()
        payload = prepare(mapping.action_spec, mapping.fields, event, coercions)
        built = mapping.action_spec.build(config, [payload])
    except (PayloadInvalid, KeyError, SecretsUnreadable) as problem:
        return DryRun(**verdict, problem=describe_problem(problem), coercions=coercions)
    requests = [shown_request(r, config) for r in built]
    return DryRun(**verdict, payload=payload, requests=requests, coercions=coercions)


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


def shown_request(request: Request, config: Config) -> ShownRequest:
    secrets = config.secret_values
    # The transport's client adds its User-Agent to every request (docs/destinations.md,
    # "Every request").
    headers = {"User-Agent": USER_AGENT} | request.headers
    return ShownRequest(
        method=request.method,
        url=redact_text(request.url, secrets),
        headers=redact_headers(headers, secrets),
        body=redact_text(request.body.decode("utf-8", errors="replace"), secrets),
    )


def shown_response(item: Sent, config: Config) -> ShownResponse:
    # The attempt log's own redaction, so a test send hides exactly what the log hides.
    record = attempt_record(item, config.secret_values)
    verdict = item.results[0]  # one event: one item, judged as the dispatcher would
    request = ShownRequest(
        record["request_method"],
        record["request_url"],
        record["request_headers"],
        record["request_body"],
    )
    return ShownResponse(
        request=request,
        outcome=verdict.outcome.value,
        status=record["response_status"],
        headers=record["response_headers"],
        body=record["response_body"],
        error_code=verdict.code,
        error_message=verdict.message,
        duration_ms=record["duration_ms"],
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


def pretty_json_text(text: str) -> str:
    """`text` indented when it is JSON, unchanged otherwise."""
    try:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return text
