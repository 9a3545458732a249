"""Per-user order at one destination (docs/delivery.md, "Per-user order"), claim by claim in
the test's own process; tests/destinations/delivery/test_per_user_order_workers.py runs it on
real workers."""

import pytest
from django.db import transaction
from django.utils import timezone

from destinations.delivery import holds, lanes
from destinations.delivery.batching import claim_batch, request_groups
from destinations.delivery.dispatch import deliver
from destinations.delivery.leases import reclaim_expired_leases
from destinations.models import Delivery, Destination, Mapping
from destinations.services.destinations import create_destination, save_destination
from destinations.services.replays import replay_deliveries
from ingest.models import Event
from tests.destinations.delivery.dispatch.helpers import SECOND, configure, dispatch_once
from tests.destinations.delivery.scenario import ingest_and_route
from tests.destinations.delivery.sinks import Received, always

# Lanes open after the transaction that finished their blocker commits: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)

IDENTIFY = 'type = "identify"'
TRACK = 'type = "track"'


def event(user: str | None, number: int, kind: str = "track", **extra) -> dict:
    message = {"type": kind, "messageId": f"{user}-{number}", "properties": {"n": number}}
    if kind == "track":
        message["event"] = "Step"
    return message | ({"userId": user} if user else {"anonymousId": ""}) | extra


def hook(destination: Destination, name: str, trigger: str, sink, batch_size=10) -> Mapping:
    return destination.mappings.create(
        name=name,
        action="send",
        trigger=trigger,
        batch_size=batch_size,
        flush_interval=0,
        fields={
            "url": f"{sink.url}/{name}",
            "method": "POST",
            "data": {"@path": "$."},
            "enable_batching": True,
        },
    )


@pytest.fixture
def ordered(source, sink) -> Destination:
    destination = create_destination("webhook", "Profiles", sources=[source])
    # Retries wait ten minutes unless a test makes them due.
    return configure(destination, keep_order=True, retry_base_seconds=600)


@pytest.fixture
def tracks(ordered, sink) -> Mapping:
    return hook(ordered, "tracks", TRACK, sink)


def arrived(sink) -> list[str]:
    """The messageIds the sink accepted, in the order it accepted them."""
    return [item["messageId"] for item in sink.items()]


def status_of(message_id: str) -> str:
    return Delivery.objects.get(event__message_id=message_id, replay=False).status


def refuse_first_request_of(user: str, status: int = 503):
    refused: list[Received] = []

    def answer(request: Received):
        if not refused and any(item.get("userId") == user for item in request.json()):
            refused.append(request)
            return status, {}, b"{}"
        return 200, {}, b"{}"

    return answer


def test_a_users_later_events_wait_while_an_earlier_one_waits_for_a_retry(source, sink, tracks):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1), event("bob", 1), event("ann", 2), event("bob", 2))
    sink.answer = refuse_first_request_of("ann")
    for _ in range(3):  # ann-1 refused; bob-1; ann-2 held, so bob-2
        dispatch_once(tracks)
    assert claim_batch(tracks.pk) is None
    assert arrived(sink) == ["bob-1", "bob-2"]
    assert status_of("ann-1") == "retrying"
    held = Delivery.objects.get(event__message_id="ann-2")
    assert held.status == "held"
    assert held.waits_on == Delivery.objects.get(event__message_id="ann-1").pk

    Delivery.objects.filter(status="retrying").update(next_attempt_at=timezone.now() - SECOND)
    dispatch_once(tracks)
    assert status_of("ann-2") == "pending"  # ann-1 delivered: the lane opened
    dispatch_once(tracks)
    assert arrived(sink) == ["bob-1", "bob-2", "ann-1", "ann-2"]


def test_an_identify_mapping_and_a_track_mapping_of_one_destination_share_one_order(
    source, sink, ordered, tracks
):
    identifies = hook(ordered, "identifies", IDENTIFY, sink)
    ingest_and_route(source, event("ann", 1, "identify"), event("ann", 2), event("bob", 3))
    dispatch_once(tracks)
    assert arrived(sink) == ["bob-3"]
    assert status_of("ann-2") == "held"
    dispatch_once(identifies)
    dispatch_once(tracks)
    assert arrived(sink) == ["bob-3", "ann-1", "ann-2"]
    assert [r.path for r in sink.received] == ["/tracks", "/identifies", "/tracks"]


def test_a_permanent_failure_releases_the_deliveries_behind_it(source, sink, tracks):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    sink.answer = refuse_first_request_of("ann", status=400)
    dispatch_once(tracks)
    assert status_of("ann-1") == "failed"
    dispatch_once(tracks)
    assert status_of("ann-2") == "delivered"


def test_a_delivery_that_waits_on_its_user_counts_towards_filling_the_request_it_is_read_with(
    source, sink, tracks
):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1))
    sink.answer = always(503)
    dispatch_once(tracks)
    sink.answer = always(200)
    configure(tracks, batch_size=3, flush_interval=60)
    ingest_and_route(source, event("ann", 2), event("bob", 1))
    assert claim_batch(tracks.pk) is None  # bob-1 alone, not full: the claim holds nothing
    assert status_of("ann-2") == "pending"
    ingest_and_route(source, event("carl", 1))
    dispatch_once(tracks)  # three read, ann-2 waits: the other two go now
    assert arrived(sink) == ["bob-1", "carl-1"]
    assert status_of("ann-2") == "held"


def test_one_request_carries_a_users_consecutive_events_in_their_order(source, sink, tracks):
    ingest_and_route(source, *[event("ann", n) for n in range(1, 4)], event("bob", 1))
    dispatch_once(tracks)
    assert arrived(sink) == ["ann-1", "ann-2", "ann-3", "bob-1"]
    assert len(sink.received) == 1


def test_a_retry_made_due_again_goes_before_the_later_events_of_its_user(source, sink, tracks):
    ingest_and_route(source, event("ann", 1))
    sink.answer = always(503)
    dispatch_once(tracks)
    ingest_and_route(source, event("ann", 2))
    # ann-2 came in while ann-1 waited and is due before it: the request still keeps the order.
    Delivery.objects.filter(event__message_id="ann-1").update(next_attempt_at=timezone.now())
    sink.answer = always(200)
    batch = dispatch_once(tracks)
    assert batch.request_sizes == (1, 1)  # the retry goes first, in a request of its own
    assert arrived(sink) == ["ann-1", "ann-2"]


def test_a_delivery_stays_behind_its_users_retry_refused_earlier_in_the_same_claim(
    settings, source, sink, tracks
):
    settings.CLAIM_MAX_DELIVERIES = 100  # a claim of several requests
    ingest_and_route(source, event("ann", 1), event("bob", 1))
    sink.answer = always(503)
    dispatch_once(tracks)
    ingest_and_route(source, event("ann", 2))
    Delivery.objects.filter(status="retrying").update(next_attempt_at=timezone.now())

    def answer(request: Received):
        sent = [item["messageId"] for item in request.json()]
        if len(sent) > 1:
            return 400, {}, b"{}"  # split in halves: ann-1 is refused again, bob-1 goes
        return (503, {}, b"{}") if sent == ["ann-1"] else (200, {}, b"{}")

    sink.answer = answer
    batch = dispatch_once(tracks)
    assert len(batch.requests()) == 2  # the retries, then ann-2
    assert arrived(sink) == ["bob-1"]
    assert status_of("ann-2") == "pending"  # back in line, untouched
    assert claim_batch(tracks.pk) is None
    assert status_of("ann-2") == "held"


def test_a_retry_behind_a_first_attempt_of_its_user_goes_behind_it_with_the_first_attempts():
    first = Delivery(pk=1, attempts=0, lane=7, payload_bytes=2)
    retry = Delivery(pk=2, attempts=1, lane=7, payload_bytes=2)
    other_retry = Delivery(pk=3, attempts=1, lane=8, payload_bytes=2)
    groups = request_groups([first, retry, other_retry], 10, None)
    assert groups == [[other_retry], [first, retry]]


def test_a_replay_is_sent_after_what_is_already_queued_for_its_user(source, sink, tracks):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1))
    dispatch_once(tracks)
    ingest_and_route(source, event("ann", 2))
    replay_deliveries([Delivery.objects.get(event__message_id="ann-1").pk])
    dispatch_once(tracks)
    dispatch_once(tracks)
    assert arrived(sink) == ["ann-1", "ann-2", "ann-1"]


def test_a_lane_is_the_user_id_else_the_anonymous_id_and_an_event_without_either_has_none():
    assert lanes.lane_of({"userId": "ann", "anonymousId": "x"}) == lanes.lane_of({"userId": "ann"})
    assert lanes.lane_of({"userId": "", "anonymousId": "x"}) == lanes.lane_of({"userId": "x"})
    assert lanes.lane_of({"userId": 42}) == lanes.lane_of({"userId": "42"})
    assert lanes.lane_of({"userId": "ann"}) != lanes.lane_of({"userId": "bob"})
    assert lanes.lane_of({"userId": None, "anonymousId": ""}) is None
    assert lanes.lane_of({}) is None
    assert lanes.lane_of(["not", "an", "event"]) is None


def test_a_delivery_waits_until_every_event_received_before_it_is_routed(source, sink, tracks):
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    # ann-1's chunk is still being routed by another router: its delivery is not there yet.
    Delivery.objects.filter(event__message_id="ann-1").delete()
    Event.objects.filter(message_id="ann-1").update(routed_at=None)
    assert claim_batch(tracks.pk) is None
    assert status_of("ann-2") == "pending"
    Event.objects.filter(message_id="ann-1").update(routed_at=timezone.now())
    dispatch_once(tracks)
    assert arrived(sink) == ["ann-2"]


def test_with_the_setting_off_a_users_events_do_not_wait(source, sink, ordered, tracks):
    configure(ordered, keep_order=False)
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    sink.answer = refuse_first_request_of("ann")
    dispatch_once(tracks)
    dispatch_once(tracks)
    assert arrived(sink) == ["ann-2"]
    assert set(Delivery.objects.values_list("lane", flat=True)) == {None}


def test_turning_the_setting_off_releases_the_held_deliveries(source, sink, ordered, tracks):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    sink.answer = always(503)
    dispatch_once(tracks)
    assert claim_batch(tracks.pk) is None  # ann-2 is held behind ann-1
    assert status_of("ann-2") == "held"
    ordered.keep_order = False
    save_destination(ordered, {})
    assert status_of("ann-2") == "pending"


def test_a_held_delivery_whose_blocker_is_gone_is_released_by_the_sweeper(source, sink, tracks):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    sink.answer = always(503)
    dispatch_once(tracks)
    assert claim_batch(tracks.pk) is None  # ann-2 is held behind ann-1
    Delivery.objects.filter(event__message_id="ann-1").delete()
    assert holds.release_orphans() == 1
    assert status_of("ann-2") == "pending"
    assert holds.release_orphans() == 0


def test_a_hold_whose_blocker_finished_before_the_claim_committed_is_let_go(source, sink, tracks):
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    first, second = Delivery.objects.order_by("position")
    blocker = lanes.Entry(first.pk, first.position, "in_flight", first.event_received_at)
    with transaction.atomic():
        holds.hold(tracks.destination_id, {second: blocker})
        # Meanwhile another worker records the blocker delivered and finds nothing held.
        Delivery.objects.filter(pk=first.pk).update(status="delivered")
    assert status_of("ann-2") == "pending"


def test_one_blocked_busy_user_does_not_stop_the_claim_for_the_others(
    source, sink, tracks, settings
):
    ingest_and_route(source, event("ann", 0))
    sink.answer = always(503)
    dispatch_once(tracks)
    ingest_and_route(source, *[event("ann", n) for n in range(1, 26)], event("bob", 1))
    sink.answer = always(200)
    dispatch_once(tracks)  # 10 of ann's are read and held, then 10 more, then 5 and bob's
    assert arrived(sink) == ["bob-1"]
    assert Delivery.objects.filter(status="held").count() == 25


def test_a_lapsed_lease_past_the_retry_window_releases_the_lane(source, sink, ordered, tracks):
    configure(tracks, batch_size=1)
    ingest_and_route(source, event("ann", 1), event("ann", 2))
    first = claim_batch(tracks.pk)  # ann-1 in flight, and its worker dies
    assert claim_batch(tracks.pk) is None  # ann-2 held behind it
    long_ago = timezone.now() - 5 * 3600 * SECOND
    Delivery.objects.filter(pk=first.deliveries[0].pk).update(
        lease_expires_at=timezone.now() - SECOND, first_attempt_at=long_ago, attempts=2
    )
    reclaim_expired_leases()
    assert status_of("ann-1") == "failed"
    assert status_of("ann-2") == "pending"


def test_halving_a_refused_batch_keeps_each_users_order(source, sink, tracks):
    ingest_and_route(source, event("ann", 1), event("bob", 1), event("ann", 2), event("bob", 2))

    def refuse_batches_with_bob_1(request: Received):
        bad = any(item["messageId"] == "bob-1" for item in request.json())
        return (400 if bad else 200), {}, b"{}"

    sink.answer = refuse_batches_with_bob_1
    batch = claim_batch(tracks.pk)
    deliver(batch)
    assert arrived(sink) == ["ann-1", "ann-2", "bob-2"]


def waiting_for_a_retry(source, sink, tracks, *users: str) -> None:
    """Each user's event 0 refused once and waiting for its retry; then batches of 4 that
    wait a minute to fill."""
    configure(tracks, batch_size=4, flush_interval=0)
    ingest_and_route(source, *[event(user, 0) for user in users])
    sink.answer = always(503)
    dispatch_once(tracks)
    configure(tracks, flush_interval=60)
    sink.answer = always(200)


def test_a_claim_fills_its_batch_from_past_what_it_held_and_a_user_goes_on_across_reads(
    source, sink, tracks
):
    waiting_for_a_retry(source, sink, tracks, "ann", "cid")
    ingest_and_route(
        source, event("ann", 1), event("cid", 1), *[event("bob", n) for n in range(1, 5)]
    )
    # The first read (five: ann-1, cid-1, bob-1..3) holds two; the second reads on to bob-4,
    # which goes behind bob-3 in the same request; the batch is full, so it waits for no flush.
    dispatch_once(tracks)
    assert arrived(sink) == ["bob-1", "bob-2", "bob-3", "bob-4"]
    assert status_of("ann-1") == status_of("cid-1") == "held"


def test_a_batch_short_only_of_held_deliveries_goes_without_waiting_to_fill(source, sink, tracks):
    waiting_for_a_retry(source, sink, tracks, "ann")
    ingest_and_route(source, event("ann", 1), *[event("bob", n) for n in range(1, 4)])
    dispatch_once(tracks)  # four were due: the batch is not waiting for a fifth
    assert arrived(sink) == ["bob-1", "bob-2", "bob-3"]
