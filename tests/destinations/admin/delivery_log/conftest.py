"""Fixtures of the delivery log tests: a quiet doorbell, a destination on a local endpoint."""

from collections.abc import Iterator

import pytest

from destinations.models import Destination
from tests.destinations.admin.log_scenario import billing
from tests.destinations.delivery import scenario
from tests.destinations.delivery.sinks import Sink


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def endpoint() -> Iterator[Sink]:
    """The destination's API: a local server that answers 200 unless told otherwise."""
    sink = Sink()
    yield sink
    sink.close()


@pytest.fixture
def destination(source, endpoint) -> Destination:
    return billing(source, endpoint.url)
