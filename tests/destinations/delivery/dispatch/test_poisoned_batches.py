"""A bad event never sinks its batch (issue 17): a batch refused whole for its content is
split until the bad items stand alone. Metronome answers 400 to a whole batch for one event
it cannot take (an unknown customer_id, a timestamp too far ahead); Segment's own Metronome
action sends one event per request for that reason (action-destinations, metronome
sendEvent), where batching must do better and isolate the bad one."""

import math
from dataclasses import replace

import orjson
import pytest

from destinations.delivery.routing import route_new_events
from destinations.integrations import REGISTRY, get_kind
from destinations.integrations.base import Answer, ItemResult, Outcome
from destinations.models import Delivery, DeliveryAttempt
from tests.destinations.delivery.dispatch.helpers import configure, dispatch_once, pending
from tests.destinations.delivery.scenario import ingest_and_route, track
from tests.destinations.delivery.sinks import always

REFUSAL = b'{"message":"customer_id acct-bad does not exist"}'


def refusing(*bad_customers: str):
    """Metronome-like: 400 for any batch holding one of these customers, 200 otherwise."""

    def answer(request):
        customers = {item["customer_id"] for item in request.json()}
        return (400, {}, REFUSAL) if customers & set(bad_customers) else (200, {}, b"{}")

    return answer


def by_message_id() -> dict[str, Delivery]:
    deliveries = Delivery.objects.select_related("event")
    return {delivery.event.message_id: delivery for delivery in deliveries}


def test_one_bad_event_of_12_fails_alone_and_the_11_others_are_delivered(
    api, sink, billing, mapping
):
    sink.answer = refusing("acct-bad")
    messages = [track(i) for i in range(12)]
    messages[5] = track(5, context={"groupId": "acct-bad"})
    messages[8] = {key: value for key, value in track(8).items() if key != "properties"}
    assert api.post("/v1/batch", json={"batch": messages}).json() == {"success": True}
    route_new_events()

    dispatch_once(mapping)

    deliveries = by_message_id()
    bad = deliveries.pop("msg-00005")
    assert bad.status == "failed"
    assert bad.error_code == "BAD_REQUEST"
    assert "customer_id acct-bad does not exist" in bad.error_message
    assert {d.status for d in deliveries.values()} == {"delivered"}
    assert len(deliveries) == 11  # msg-00008, without properties, among them
    assert sorted(item["transaction_id"] for item in sink.items()) == sorted(deliveries)


def test_the_attempt_log_shows_every_split(source, sink, billing, mapping):
    sink.answer = refusing("acct-bad")
    ingest_and_route(
        source, *[track(i) for i in range(3)], track(3, context={"groupId": "acct-bad"})
    )

    dispatch_once(mapping)

    # [0 1 2 3] refused → [0 1] delivered, [2 3] refused → [2] delivered, [3] refused.
    attempts = DeliveryAttempt.objects.order_by("pk")
    assert [attempt.item_count for attempt in attempts] == [4, 2, 2, 1, 1]
    assert [r.status for r in sink.received] == [400, 200, 400, 200, 400]
    bad = Delivery.objects.get(event__message_id="msg-00003")
    assert bad.attempt_log.count() == 3  # the whole batch, its half, itself
    assert bad.attempts == 1  # one try, however many requests it took


@pytest.mark.parametrize("bad", [1, 2, 5])
def test_k_bad_items_among_64_cost_about_2_k_log2_64_more_requests(
    source, sink, billing, mapping, bad
):
    sink.answer = refusing(*[f"acct-bad-{i}" for i in range(bad)])
    messages = [track(i) for i in range(64)]
    for i in range(bad):
        messages[i * 13] = track(i * 13, context={"groupId": f"acct-bad-{i}"})
    ingest_and_route(source, *messages)

    dispatch_once(mapping)

    assert len(sink.received) <= 1 + 2 * bad * math.log2(64)
    counts = {}
    for delivery in Delivery.objects.all():
        counts[delivery.status] = counts.get(delivery.status, 0) + 1
    assert counts == {"failed": bad, "delivered": 64 - bad}


def test_bad_credentials_are_never_split(source, sink, billing, mapping):
    sink.answer = always(401)
    pending(source, 8)

    dispatch_once(mapping)

    assert len(sink.received) == 1
    assert {d.status for d in Delivery.objects.all()} == {"failed"}


def test_a_retryable_answer_is_not_split_and_keeps_its_backoff(source, sink, billing, mapping):
    sink.answer = always(503)
    pending(source, 8)

    dispatch_once(mapping)

    assert len(sink.received) == 1
    assert {d.status for d in Delivery.objects.all()} == {"retrying"}


def test_splitting_stops_at_half_the_lease_and_leaves_the_rest_to_a_retry(
    source, sink, billing, mapping, settings
):
    settings.DELIVERY_LEASE_SECONDS = 0
    sink.answer = refusing("acct-bad")
    ingest_and_route(source, track(0), track(1, context={"groupId": "acct-bad"}))

    dispatch_once(mapping)

    assert len(sink.received) == 1
    rows = Delivery.objects.all()
    assert {(d.status, d.error_code) for d in rows} == {("retrying", "BATCH_NOT_SPLIT")}


def test_a_batch_of_one_refused_is_simply_failed(source, sink, billing, mapping):
    configure(mapping, batch_size=1)
    sink.answer = refusing("acct-bad")
    ingest_and_route(source, track(0, context={"groupId": "acct-bad"}))

    dispatch_once(mapping)

    assert len(sink.received) == 1
    assert Delivery.objects.get().status == "failed"
    assert orjson.loads(sink.received[0].body)[0]["customer_id"] == "acct-bad"


def naming_bad_items(answer: Answer, count: int) -> list[ItemResult] | None:
    """Amplitude-like: a 400 lists the indexes of the events it refused, and takes none."""
    if answer.status != 400:
        return None
    bad = set(orjson.loads(answer.body)["bad_indexes"])
    refused = ItemResult(Outcome.FAILED, "BAD_EVENT", "refused by name")
    return [refused if i in bad else ItemResult(Outcome.RETRY, retry_after=0) for i in range(count)]


def test_an_answer_the_kind_reads_item_by_item_fails_only_the_named_items_without_a_split(
    source, sink, billing, mapping, monkeypatch
):
    metronome = get_kind("metronome")
    action = replace(metronome.action("send_event"), read_response=naming_bad_items)
    monkeypatch.setitem(REGISTRY, "metronome", replace(metronome, actions=(action,)))
    sink.answer = lambda request: (400, {}, b'{"bad_indexes": [1]}')
    ingest_and_route(source, *[track(i) for i in range(3)])

    dispatch_once(mapping)

    assert len(sink.received) == 1
    statuses = {message_id: d.status for message_id, d in by_message_id().items()}
    assert statuses == {"msg-00000": "retrying", "msg-00001": "failed", "msg-00002": "retrying"}
    assert Delivery.objects.get(event__message_id="msg-00001").error_code == "BAD_EVENT"
