"""The dispatcher: claim a mapping's batch, send it, record what became of every item
(`retries` decides between delivered, retrying and failed) and keep the destination's circuit
breaker. Every HTTP request is logged as a DeliveryAttempt linked to the deliveries it carried.
"""

import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from infra import metrics
from infra.bulk import insert_rows

from ..integrations.base import ItemResult, Outcome
from ..models import AttemptLink, Delivery, DeliveryAttempt
from . import breaker, doorbell, holds, tallies
from .batching import Batch, claim_batch
from .exchanges import Sent, attempt_record, unsent
from .retries import outcome_values
from .transport import send_batch

SECRET_MISSING = "SECRET_MISSING"


def dispatch_mapping(mapping_id: int) -> None:
    """Send the mapping's ready batches for a while, then hand it back to the queue."""
    deadline = time.monotonic() + settings.DISPATCH_RUN_SECONDS
    while (batch := claim_batch(mapping_id)) is not None:
        deliver(batch)
        if time.monotonic() > deadline:
            doorbell.ring_dispatchers([mapping_id])
            return


def deliver(batch: Batch) -> None:
    """Send the claim's requests one after another and record every outcome."""
    if missing := batch.destination.kind_spec.missing_secrets(batch.config):
        # Cleared by a save that moved the host, or never typed: nothing can go out until
        # someone types it; meanwhile the items wait out their backoff and say why.
        everything = tuple(range(len(batch.deliveries)))
        record(batch, [unsent(everything, secret_missing(missing))])
        return
    sent, released = send_in_turn(batch)
    record(batch, sent, released)


def send_in_turn(batch: Batch) -> tuple[list[Sent], list[int]]:
    """The claim's requests, one after another: what they got, and what goes back in line as
    it was, with no attempt counted:
    - every request left once a request of first attempts has all its items wait for a
      retry (the destination is struggling: its breaker decides from here, a request at a
      time), or once a quarter of the lease has passed (a slow destination must not keep
      them past the lease, which would send them twice);
    - the retries' requests left once one of them is refused again: that says less about
      the destination, and the first attempts still go ("Retries go apart");
    - a delivery whose user's earlier delivery in this claim is to be retried: it must not
      overtake it.
    """
    deadline = time.monotonic() + settings.DELIVERY_LEASE_SECONDS / 4
    sent: list[Sent] = []
    released: list[int] = []
    closed: set[bool] = set()  # the requests no longer sent: of retries (True), of first attempts
    retrying_lanes: set[int] = set()
    for items in batch.requests():
        of_retries = bool(batch.deliveries[items[0]].attempts)
        if of_retries in closed or (sent and time.monotonic() > deadline):
            released += items
            continue
        behind = [i for i in items if batch.deliveries[i].lane in retrying_lanes]
        released += behind
        if not (items := tuple(i for i in items if i not in behind)):
            continue
        answers = send_request(batch, items)
        sent += answers
        if all(r.outcome is Outcome.RETRY for item in answers for r in item.results):
            closed |= {True} if of_retries else {True, False}
        retrying_lanes |= lanes_to_retry(batch, answers)
    return sent, released


def lanes_to_retry(batch: Batch, answers: list[Sent]) -> set[int]:
    """The lanes of the items whose last verdict in these answers is a retry."""
    verdicts = {
        index: result.outcome
        for item in answers
        for index, result in zip(item.request.items, item.results, strict=True)
    }
    retried = (batch.deliveries[i].lane for i, o in verdicts.items() if o is Outcome.RETRY)
    return {lane for lane in retried if lane is not None}


def secret_missing(labels: list[str]) -> ItemResult:
    message = f"the destination holds no {', '.join(labels)}: type it in its settings"
    return ItemResult(Outcome.RETRY, SECRET_MISSING, message)


def send_request(batch: Batch, items: tuple[int, ...]) -> list[Sent]:
    payloads = [batch.deliveries[index].payload for index in items]
    try:
        sent = send_batch(batch.action, batch.config, payloads)
    except Exception as error:  # a builder bug: an exception is never a success
        sent = [failed_to_send(len(payloads), error)]
    if items == tuple(range(len(items))):
        return sent
    return [renumbered(item, items) for item in sent]


def renumbered(item: Sent, items: tuple[int, ...]) -> Sent:
    """The request's items as indexes into the whole claim, not into its own payloads."""
    request = replace(item.request, items=tuple(items[i] for i in item.request.items))
    return replace(item, request=request)


def failed_to_send(count: int, error: Exception) -> Sent:
    return not_sent(tuple(range(count)), repr(error))


def unsent_leftovers(batch: Batch, sent: list[Sent], released: list[int]) -> list[Sent]:
    """Items no request carried (a kind's bug) are retried, never left in flight."""
    carried = {index for item in sent for index in item.request.items} | set(released)
    missing = tuple(i for i in range(len(batch.deliveries)) if i not in carried)
    return [not_sent(missing, "no request carried this item")] if missing else []


def not_sent(items: tuple[int, ...], problem: str) -> Sent:
    return unsent(items, ItemResult(Outcome.RETRY, "UNKNOWN_ERROR", problem))


def record(batch: Batch, sent: list[Sent], released: list[int] = ()) -> None:
    now = timezone.now()
    sent = sent + unsent_leftovers(batch, sent, released)
    with transaction.atomic():
        updates: dict[int, dict[str, Any]] = {}
        for item in sent:
            for index, result in zip(item.request.items, item.results, strict=True):
                delivery = batch.deliveries[index]
                updates[delivery.pk] = outcome_values(
                    batch.destination, delivery, item, result, now
                )
        log_attempts(batch, sent)
        first_started = min(item.exchange.started_at for item in sent)
        reached = apply_updates(batch, updates, first_started)
        release(batch, released)
        holds.after_finishing(batch.destination.pk, finished_lanes(batch, updates))
        count_outcomes(batch, reached, updates, now)
        breaker.update_state(batch, sent, now)
        transaction.on_commit(lambda: count_batch(batch, sent, updates))


def finished_lanes(batch: Batch, updates: dict[int, dict[str, Any]]) -> list[int | None]:
    return [
        delivery.lane
        for delivery in batch.deliveries
        if updates.get(delivery.pk, {}).get("status") in holds.FINISHED
    ]


def count_batch(batch: Batch, sent: list[Sent], updates: dict[int, dict[str, Any]]) -> None:
    name = batch.destination.name
    metrics.count_outcomes(name, Counter(values["status"] for values in updates.values()))
    durations = [item.exchange.duration_ms / 1000 for item in sent if item.request.url]
    metrics.observe_attempts(name, durations)


def log_attempts(batch: Batch, sent: list[Sent]) -> None:
    """Every request of the claim and its links, in two INSERTs whatever their number (as
    JSON documents: bulk_create's per-value adaptation was a fifth of a one-item request's
    cost)."""
    attempts = [
        {
            "destination_id": batch.destination.pk,
            "mapping_id": batch.mapping.pk,
            **attempt_record(item, batch.config.secret_values),
        }
        for item in sent
    ]
    ids = insert_rows(DeliveryAttempt, attempts, returning="id")
    links = (
        {
            "deliveryattempt_id": attempt_id,
            "delivery_id": batch.deliveries[i].pk,
            "started_at": attempt["started_at"],
        }
        for attempt_id, attempt, item in zip(ids, attempts, sent, strict=True)
        for i in item.request.items
    )
    insert_rows(AttemptLink, links)


def release(batch: Batch, released: list[int]) -> None:
    """Deliveries never sent go back in line as they were, with no attempt counted."""
    if not released:
        return
    rows = [batch.deliveries[index] for index in released]
    Delivery.objects.of(rows).filter(claim=batch.claim).update(
        status=Case(
            When(attempts=0, then=Value(Delivery.Status.PENDING)),
            default=Value(Delivery.Status.RETRYING),
        ),
        claim=None,
        lease_expires_at=None,
    )


def apply_updates(
    batch: Batch, updates: dict[int, dict[str, Any]], started: datetime
) -> Counter[str]:
    """One UPDATE per kind of outcome; only rows still held by this claim are touched (a row
    whose lease lapsed belongs to whoever reclaimed it). Returns how many rows reached each
    status."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pk, values in updates.items():
        shared = tuple(sorted((k, v) for k, v in values.items() if k != "next_attempt_at"))
        groups[shared].append(pk)
    reached: Counter[str] = Counter()
    for shared, pks in groups.items():
        values = dict(shared)
        if values["status"] == Delivery.Status.RETRYING:
            values["next_attempt_at"] = Case(
                *[When(pk=pk, then=Value(updates[pk]["next_attempt_at"])) for pk in pks]
            )
        reached[values["status"]] += (
            Delivery.objects.of(batch.deliveries)
            .filter(pk__in=pks, claim=batch.claim)
            .update(
                **values,
                attempts=F("attempts") + 1,
                first_attempt_at=Coalesce(F("first_attempt_at"), Value(started)),
                last_attempt_at=started,
                claim=None,
                lease_expires_at=None,
            )
        )
    return reached


def count_outcomes(
    batch: Batch, reached: Counter[str], updates: dict[int, dict[str, Any]], now: datetime
) -> None:
    """The hourly tallies, from the rows the updates touched (not the ones a lapsed lease
    lost): outcomes, and the latencies of what was delivered."""
    destination_id = batch.destination.pk
    tallies.count_outcomes({(destination_id, s): n for s, n in reached.items()}, now)
    if reached[Delivery.Status.DELIVERED]:
        received = delivered_originals(batch, reached, updates, now)
        tallies.count_latencies(destination_id, received, now)


def delivered_originals(
    batch: Batch, reached: Counter[str], updates: dict[int, dict[str, Any]], now: datetime
) -> list[datetime]:
    """When the events were received of the batch's deliveries delivered now, replays left
    out (their latency measures the operator's wait). From the batch itself when every row
    meant to be delivered was (the claim still held them all); otherwise a lapsed lease gave
    some away, and the rows, which this transaction holds, say which."""
    status = Delivery.Status.DELIVERED
    meant = [d for d in batch.deliveries if updates.get(d.pk, {}).get("status") == status]
    if len(meant) == reached[status]:
        return [delivery.event_received_at for delivery in meant if not delivery.replay]
    delivered = Delivery.objects.of(batch.deliveries).filter(
        status=status, delivered_at=now, replay=False
    )
    return list(delivered.values_list("event_received_at", flat=True))
