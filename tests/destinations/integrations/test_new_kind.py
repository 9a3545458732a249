"""Adding a destination kind is one module plus one registry line: this test is that module.

The kind below is declared here and registered the way destinations/integrations/registry.py
registers every kind; nothing else in the project learns about it, and yet it can be added,
configured, mapped and delivered to.
"""

import pytest

from destinations.admin.forms import destination_form
from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import REGISTRY
from destinations.integrations.base import Action, Field, Kind, Preset, Setting, json_request
from destinations.models import Destination
from destinations.services.destinations import create_destination
from tests.destinations import events


def build_pings(config, payloads):
    body = {"pings": [payload["what"] for payload in payloads]}
    headers = {"X-Ping-Key": config["key"]}
    return [json_request("POST", f"{config.base_url}/pings", body, range(len(payloads)), headers)]


PING = Kind(
    key="ping",
    name="Ping",
    description="An example kind used by this test.",
    docs_url="https://example.com/ping",
    default_base_url="https://ping.example.com",
    settings=(Setting("key", "Key", "password", required=True),),
    actions=(
        Action(
            key="ping",
            title="Ping",
            fields=(Field("what", "What", "string", True, {"@path": "$.event"}),),
            build=build_pings,
            batching=True,
            max_batch_size=10,
            default_batch_size=10,
        ),
    ),
    presets=(Preset("Ping on track", "ping", 'type = "track"'),),
)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(REGISTRY, PING.key, PING)


def test_a_kind_from_one_module_can_be_added_configured_and_delivered_to(
    db, registered, httpserver
):
    httpserver.expect_request(
        "/pings", method="POST", json={"pings": ["API Call"]}
    ).respond_with_data("ok")

    destination = create_destination(
        "ping", "My ping", {"base_url": httpserver.url_for("/")}, {"key": "k-123"}
    )
    preset = destination.mappings.get()
    payload = prepare(preset.action_spec, preset.fields, events.track())
    sent = send_batch(preset.action_spec, destination.config(), [payload])

    assert [result.outcome for result in sent[0].results] == ["delivered"]
    assert httpserver.log[0][0].headers["X-Ping-Key"] == "k-123"
    assert Destination.objects.get().get_kind_display() == "Ping"


def test_its_settings_form_comes_from_its_schema(registered):
    form = destination_form("ping")()

    assert {"name", "enabled", "sources", "key", "base_url"} <= set(form.fields)
    assert form.fields["key"].widget.input_type == "password"
