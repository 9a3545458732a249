"""What the dispatcher tests share: moving rows in time, reading outcomes, a tiny kind."""

from datetime import timedelta

from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import deliver
from destinations.integrations.base import Action, Field, Kind, json_request
from destinations.models import Delivery, Destination, DestinationState, Mapping
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest_and_route, track
from tests.destinations.delivery.sinks import always

SECOND = timedelta(seconds=1)
TRACKS = scenario.TRACK_TRIGGER


def mapping_of(destination: Destination) -> Mapping:
    return destination.mappings.get()


def configure(instance, **values):
    for name, value in values.items():
        setattr(instance, name, value)
    instance.save()
    return instance


def pending(source, count: int, start: int = 0, **overrides) -> None:
    ingest_and_route(source, *[track(i, **overrides) for i in range(start, start + count)])


def dispatch_once(mapping: Mapping):
    batch = claim_batch(mapping.pk)
    assert batch is not None, "nothing was claimed"
    deliver(batch)
    return batch


def make_due(**filters) -> None:
    Delivery.objects.filter(**filters).update(next_attempt_at=timezone.now() - SECOND)


def state_of(destination: Destination) -> DestinationState:
    return DestinationState.objects.get(destination=destination)


def statuses(destination: Destination) -> dict[str, int]:
    return dict(scenario.statuses(destination))


def sizes(sink) -> list[int]:
    return [len(request.json()) for request in sink.received]


def tiny_kind(max_bytes: int, build=None) -> Kind:
    """A kind whose request body is exactly the JSON array of the payloads."""

    def build_array(config, payloads):
        url = f"{config.base_url}/tiny"
        return [json_request("POST", url, payloads, range(len(payloads)))]

    action = Action(
        key="send",
        title="Send",
        fields=(Field("what", "What", "string", True, {"@path": "$.properties.what"}),),
        build=build or build_array,
        batching=True,
        max_batch_size=10,
        default_batch_size=10,
        max_batch_bytes=max_bytes,
    )
    return Kind(
        key="tiny",
        name="Tiny",
        description="A kind with a tiny request size limit, for these tests.",
        docs_url="https://example.com/tiny",
        default_base_url="https://tiny.example.com",
        settings=(),
        actions=(action,),
    )


def twenty_byte_payloads(source, count: int) -> None:
    pending(source, count, properties={"what": "x" * 9})  # {"what":"xxxxxxxxx"}
    assert set(Delivery.objects.values_list("payload_bytes", flat=True)) == {20}


def open_circuit(destination: Destination, mapping: Mapping, sink) -> None:
    sink.answer = always(503)
    dispatch_once(mapping)
    dispatch_once(mapping)
    make_due()


def end_cooldown(destination: Destination) -> None:
    DestinationState.objects.filter(destination=destination).update(
        paused_until=timezone.now() - SECOND
    )
