"""After an outage (destinations/delivery/recovery.py): when a destination's circuit closes,
its waiting retries become due at once, in their events' order, instead of each waiting out
its own backoff; a destination whose circuit never opened keeps its retries' backoff."""

import pytest
from django.utils import timezone

from destinations.delivery import recovery
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import (
    configure,
    dispatch_once,
    end_cooldown,
    mapping_of,
    pending,
    state_of,
)
from tests.destinations.delivery.sinks import always


@pytest.fixture
def outage(sink, fragile, mapping):
    """Billing's circuit opened on two 503s: deliveries 0 and 1 wait a minute or more."""
    configure(fragile, retry_base_seconds=60, retry_cap_seconds=3600)
    sink.answer = always(503)
    dispatch_once(mapping)
    dispatch_once(mapping)
    assert state_of(fragile).paused_until is not None
    sink.received.clear()
    sink.answer = always(200)
    return fragile


def totals(sink) -> list[int]:
    return [item["properties"]["total"] for item in sink.items()]


def test_when_the_probe_closes_the_circuit_the_waiting_retries_go_first_in_order(
    sink, outage, mapping, django_capture_on_commit_callbacks
):
    end_cooldown(outage)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_once(mapping)  # the probe: the oldest due delivery, number 2

    dispatch_mapping(mapping.pk)

    assert totals(sink) == [2, 0, 1, 3]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_single_failure_of_a_destination_whose_circuit_stays_closed_keeps_its_backoff(
    source, sinks, outage, mapping, django_capture_on_commit_callbacks
):
    other_sink = sinks(answer=always(503))
    other = scenario.webhook(source, other_sink.url, name="Other", batch_size=1)
    configure(other, retry_base_seconds=60, retry_cap_seconds=3600)
    configure(mapping_of(other), flush_interval=0)
    pending(source, 1, start=10)
    dispatch_once(mapping_of(other))
    [waiting] = Delivery.objects.filter(destination=other, status="retrying")

    end_cooldown(outage)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_once(mapping)  # Billing's probe closes Billing's circuit

    waiting.refresh_from_db()
    assert waiting.next_attempt_at > timezone.now()


def test_the_retries_are_moved_a_chunk_at_a_time(outage, monkeypatch):
    monkeypatch.setattr(recovery, "CHUNK", 1)

    assert recovery.due_at_once(outage.pk) == 2

    retrying = Delivery.objects.filter(status="retrying")
    assert all(d.next_attempt_at == d.created_at for d in retrying)
