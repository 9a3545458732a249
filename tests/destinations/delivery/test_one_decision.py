"""One decision (destinations/delivery/decisions.py): the router, Test mapping's dry run and
the transformation trial make the same thing of the same event: whether the mapping takes
it, the payload, or why none can be made."""

import pytest

from destinations.delivery.routing import route_new_events
from destinations.models import Delivery
from destinations.services.mapping_trial import dry_run
from destinations.services.transformations import map_form
from ingest.models import Event
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, track

NOWHERE = "http://127.0.0.1:9"

EVENTS = [
    track(1),  # taken, a payload
    track(2, type="page", name="Home"),  # the trigger says no
    track(3, integrations={"All": False}),  # the integrations object says no
    track(4, integrations={"All": False}, type="page"),  # both say no
    track(5, context={}),  # taken, but no customer_id: no payload
    track(6, properties={"total": "42"}),  # a number sent as text
]


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


def routed(event: Event, mapping) -> tuple[bool, dict | None, str]:
    delivery = Delivery.objects.filter(event_id=event.pk, mapping=mapping).first()
    if delivery is None:
        return (False, None, "")
    return (True, delivery.payload, delivery.error_code)


def tried(event: Event, mapping) -> tuple[bool, dict | None, str]:
    run = dry_run(mapping, event.payload)
    taken = run.matched and run.integrations_allowed
    code = run.problem.split(":")[0] if run.problem else ""
    return (taken, run.payload if taken else None, code)


def trialled(event: Event, mapping) -> tuple[bool, dict | None, str]:
    [mapped] = [
        m for m in map_form(mapping.destination, event.payload) if m.mapping == mapping.name
    ]
    code = mapped.problem.split(":")[0] if mapped.problem else ""
    return (mapped.taken, mapped.payload, code)


def test_the_router_test_mapping_and_the_trial_decide_alike(source):
    billing = scenario.metronome(source, NOWHERE)
    mapping = billing.mappings.get()
    ingest(source, *EVENTS)
    route_new_events()

    decisions = {}
    for event in Event.objects.order_by("pk"):
        by_router = routed(event, mapping)
        assert tried(event, mapping) == by_router, event.message_id
        assert trialled(event, mapping) == by_router, event.message_id
        decisions[event.message_id] = by_router[0], by_router[2]

    assert decisions == {
        "msg-00001": (True, ""),
        "msg-00002": (False, ""),
        "msg-00003": (False, ""),
        "msg-00004": (False, ""),
        "msg-00005": (True, "PAYLOAD_VALIDATION_FAILED"),
        "msg-00006": (True, ""),
    }
