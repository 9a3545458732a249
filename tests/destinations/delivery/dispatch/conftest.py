"""Fixtures of the dispatcher tests: a quiet doorbell, short timeouts, Metronome on a sink."""

import pytest

from destinations.integrations import REGISTRY
from destinations.models import Destination, Mapping
from destinations.services.destinations import create_destination
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import configure, mapping_of, pending, tiny_kind


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture(autouse=True)
def short_timeouts(settings):
    settings.DELIVERY_LEASE_SECONDS = 30
    settings.DESTINATION_CONNECT_TIMEOUT = 2
    settings.DESTINATION_READ_TIMEOUT = 5
    settings.DISPATCH_RUN_SECONDS = 20
    # One request per claim, so that these tests see the per-request rules (the cap, the
    # breaker, leases) one request at a time; test_claims_of_several_requests.py covers more.
    settings.CLAIM_MAX_DELIVERIES = 1


@pytest.fixture
def sink(sinks):
    return sinks()


@pytest.fixture
def billing(source, sink) -> Destination:
    """Metronome on the sink; its mapping sends partial batches at once (flush interval 0)."""
    destination = scenario.metronome(source, sink.url)
    configure(mapping_of(destination), flush_interval=0)
    return destination


@pytest.fixture
def mapping(billing) -> Mapping:
    return mapping_of(billing)


@pytest.fixture
def tiny(monkeypatch, source, sink):
    """Registers a tiny kind and returns its mapping (trigger: track, flush interval 0)."""

    def make(max_bytes: int = 50, build=None, **mapping_values) -> Mapping:
        monkeypatch.setitem(REGISTRY, "tiny", tiny_kind(max_bytes, build))
        destination = create_destination("tiny", "Tiny", {"base_url": sink.url}, sources=[source])
        return configure(
            Mapping(destination=destination, name="All", action="send", trigger='type = "track"'),
            **{"fields": {"what": {"@path": "$.properties.what"}}, "flush_interval": 0}
            | mapping_values,
        )

    return make


@pytest.fixture
def fragile(source, sink, billing, mapping):
    """Billing opens its circuit after 2 failed batches of one delivery; 4 are waiting."""
    configure(billing, breaker_threshold=2, breaker_cooldown_seconds=30)
    configure(mapping, batch_size=1)
    pending(source, 4)
    return billing
