from collections.abc import Iterator

import pytest

from destinations.models import Destination
from ingest.models import Source
from tests.destinations.admin.factories import metronome
from tests.destinations.admin.transformation_helpers import redact  # noqa: F401 (a fixture)
from tests.destinations.delivery.sinks import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A local HTTP server standing in for the destination; it answers 200 unless told."""
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def billing(source: Source, sink: Sink) -> Destination:
    """A Metronome destination of `source`, sending to `sink`, with its preset mapping."""
    return metronome(source, sink.url)
