"""Where a destination's secrets may go (services.secret_origins): the origins its host
settings and its mappings' URL fields name; no setting but those marked `chooses_host`
moves them."""

from typing import Any
from urllib.parse import urlsplit

import pytest

from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.integrations import KINDS
from destinations.integrations.base import Kind, Request, Setting
from destinations.models import Destination
from destinations.services.destinations import expression_origin, url_origin
from tests.destinations import events

# An order, for the e-commerce actions whose defaults take no other event (a purchase needs an
# order ID, a currency and products).
ORDER = events.track(
    event="Order Completed",
    properties={
        "order_id": "o-1",
        "currency": "USD",
        "revenue": 20,
        "total": 20,
        "product_id": "p-1",
        "products": [{"product_id": "p-1", "price": 10, "quantity": 2}],
    },
)
SAMPLES = [events.track(), events.identify(), events.page(), events.group(), events.alias(), ORDER]
HOOK_URL = "https://hooks.example.com/in"
# What a person adds to a mapping before it can send, as the webhook's URL: fields the
# action leaves without a default because only its user knows them.
ADDED_FIELDS = {("hubspot", "send_custom_behavioral_event"): {"event_name": "pe123456_api_call"}}
# What an editor might type into a setting to send the requests to their own server.
HOSTILE_TEXTS = ("https://evil.example/x", "evil.example", "evil.example:8443/x?y=1#z")


def built_requests(kind: Kind, settings: dict[str, Any]) -> list[Request]:
    """The connection test's request and each action's requests for the sample events."""
    destination = Destination(kind=kind.key, settings=settings)
    destination.set_secrets({s.key: "s3cret" for s in kind.all_settings if s.secret})
    config = destination.config()
    test = kind.connection_test
    requests = [test.request(config)] if test and test.request else []
    for action in kind.actions:
        fields = action.default_fields() | {
            f.key: HOOK_URL for f in action.fields if f.type == "url"
        }
        fields |= ADDED_FIELDS.get((kind.key, action.key), {})
        # Any other field a person must fill in before saving (a list's ID): any value will do.
        fields |= {f.key: "x" for f in action.fields if f.required and f.key not in fields}
        built = []
        for event in SAMPLES:
            try:
                built += action.build(config, [prepare(action, fields, event)])
            except PayloadInvalid:
                continue  # an event this action's defaults do not take
        assert built, f"{kind.key}.{action.key} built no request for any sample event"
        requests += built
    return requests


def origins(requests: list[Request]) -> set[tuple[str, str | None, int | None]]:
    return {(p.scheme, p.hostname, p.port) for p in map(urlsplit, (r.url for r in requests))}


def other_values(setting: Setting) -> tuple[Any, ...]:
    if setting.type == "choice":
        return setting.choices
    if setting.type == "boolean":
        return (True, False)
    if setting.type == "number":
        return (0, 1, 2)
    return HOSTILE_TEXTS


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.key)
def test_no_setting_outside_the_host_settings_moves_a_request_to_another_origin(kind):
    baseline = {s.key: "abc123" for s in kind.settings if s.required and not s.secret}
    expected = origins(built_requests(kind, baseline))
    others = [s for s in kind.all_settings if not s.secret and not s.chooses_host]

    for setting in others:
        for value in other_values(setting):
            moved = origins(built_requests(kind, baseline | {setting.key: value}))
            assert moved == expected, (
                f"{kind.key}'s setting {setting.key}={value!r} moves requests: mark it "
                "chooses_host=True"
            )


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://api.example.com/v1", "https://api.example.com"),
        ("HTTPS://Api.Example.COM:443/v2?x=1", "https://api.example.com"),
        ("http://api.example.com:80", "http://api.example.com"),
        ("http://api.example.com:443/", "http://api.example.com:443"),
        ("https://api.example.com:8443/", "https://api.example.com:8443"),
        ("https://user:password@api.example.com/", "https://api.example.com"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("events.eu.launchdarkly.com", "https://events.eu.launchdarkly.com"),
        ("https://api.example.com:port/", "https://api.example.com:port/"),
    ],
)
def test_an_origin_is_the_scheme_host_and_port_without_default_ports(url, origin):
    assert url_origin(url) == origin


@pytest.mark.parametrize(
    "expression",
    [
        "https://hooks.example.com/orders",
        {"@literal": "https://hooks.example.com/orders"},
        {"@template": "https://hooks.example.com/users/{{userId}}"},
        {"@template": "https://hooks.example.com?user={{userId}}"},
    ],
)
def test_a_url_whose_host_is_written_in_the_mapping_has_that_host_as_origin(expression):
    assert expression_origin(expression) == "https://hooks.example.com"


@pytest.mark.parametrize(
    "expression",
    [
        {"@path": "$.properties.callback"},
        {"@template": "https://{{properties.tenant}}.example.com/in"},
        {"@template": "https://hooks.example.com{{properties.suffix}}/in"},
        {"@template": "https://hooks.example.com:{{properties.port}}/in"},
        {"@template": {"@path": "$.properties.url"}},
    ],
)
def test_a_url_whose_host_an_event_chooses_is_named_by_its_mapping(expression):
    origin = expression_origin(expression)

    assert origin.startswith("an address each event chooses (")
    assert origin != expression_origin({"@path": "$.properties.other"})
