"""Helpers for destination contract tests: real HTTP client, local server, exact bytes."""

from typing import Any

import orjson
from pytest_httpserver import HTTPServer
from werkzeug import Request as ReceivedRequest

from destinations.delivery.exchanges import USER_AGENT
from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import get_kind
from destinations.integrations.base import Config, ItemResult
from infra.encryption import Secrets


def config_for(server: HTTPServer, settings: dict[str, Any], secrets: dict[str, str]) -> Config:
    return Config(settings, Secrets(secrets), server.url_for("/").rstrip("/"))


def deliver(
    server: HTTPServer,
    kind: str,
    action: str,
    events: list[dict[str, Any]],
    *,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[list[ReceivedRequest], list[ItemResult]]:
    """Run the action's preset (or given) fields on the events and send them for real."""
    spec = get_kind(kind).action(action)
    mapping_fields = fields if fields is not None else preset_fields(kind, action)
    payloads = [prepare(spec, mapping_fields, event) for event in events]
    config = config_for(server, settings or {}, secrets or {})
    before = len(server.log)
    sent = send_batch(spec, config, payloads)
    received = [request for request, _ in server.log[before:]]
    return received, [result for item in sent for result in item.results]


def preset_fields(kind: str, action: str) -> dict[str, Any]:
    spec = get_kind(kind)
    for preset in spec.presets:
        if preset.action == action and preset.fields is not None:
            return preset.fields
    return spec.action(action).default_fields()


def assert_json_request(
    request: ReceivedRequest, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    """The request is exactly this: method, path, JSON body bytes, and these headers."""
    assert request.method == method
    assert request.full_path.rstrip("?") == path
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT
    for name, value in headers.items():
        assert request.headers.get(name) == value, name
    assert request.get_data() == orjson.dumps(body)
