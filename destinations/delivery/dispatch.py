"""The dispatcher: claim a mapping's batch, send it, record what became of every item
(`retries` decides between delivered, retrying and failed) and keep the destination's circuit
breaker. Every HTTP request is logged as a DeliveryAttempt linked to the deliveries it carried.
"""

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from infra import metrics

from ..integrations.base import ItemResult, Outcome, Request
from ..models import AttemptLink, Delivery, DeliveryAttempt, DestinationState
from . import doorbell, tallies
from .attempts import attempt_record
from .batching import Batch, claim_batch
from .retries import outcome_values
from .transport import Exchange, Sent, send_batch


def dispatch_mapping(mapping_id: int) -> None:
    """Send the mapping's ready batches for a while, then hand it back to the queue."""
    deadline = time.monotonic() + settings.DISPATCH_RUN_SECONDS
    while (batch := claim_batch(mapping_id)) is not None:
        deliver(batch)
        if time.monotonic() > deadline:
            doorbell.ring_dispatchers([mapping_id])
            return


def deliver(batch: Batch) -> None:
    payloads = [delivery.payload for delivery in batch.deliveries]
    try:
        sent = send_batch(batch.action, batch.config, payloads)
    except Exception as error:  # a builder bug: an exception is never a success
        sent = [unsent(len(payloads), error)]
    record(batch, sent)


def unsent(count: int, error: Exception) -> Sent:
    return not_sent(tuple(range(count)), repr(error))


def unsent_leftovers(batch: Batch, sent: list[Sent]) -> list[Sent]:
    """Items no request carried (a kind's bug) are retried, never left in flight."""
    carried = {index for item in sent for index in item.request.items}
    missing = tuple(i for i in range(len(batch.deliveries)) if i not in carried)
    return [not_sent(missing, "no request carried this item")] if missing else []


def not_sent(items: tuple[int, ...], problem: str) -> Sent:
    request = Request("", "", {}, b"", items)
    exchange = Exchange(
        request, timezone.now(), 0, error_code="UNKNOWN_ERROR", error_message=problem
    )
    result = ItemResult(Outcome.RETRY, "UNKNOWN_ERROR", problem)
    return Sent(request, exchange, [result] * len(items))


def record(batch: Batch, sent: list[Sent]) -> None:
    now = timezone.now()
    sent = sent + unsent_leftovers(batch, sent)
    with transaction.atomic():
        updates: dict[int, dict[str, Any]] = {}
        for item in sent:
            log_attempt(batch, item)
            for index, result in zip(item.request.items, item.results, strict=True):
                delivery = batch.deliveries[index]
                updates[delivery.pk] = outcome_values(
                    batch.destination, delivery, item, result, now
                )
        first_started = min(item.exchange.started_at for item in sent)
        reached = apply_updates(batch, updates, first_started)
        count_outcomes(batch, reached, updates, now)
        update_state(batch, [result for item in sent for result in item.results], now)
        transaction.on_commit(lambda: count_batch(batch, sent, updates))


def count_batch(batch: Batch, sent: list[Sent], updates: dict[int, dict[str, Any]]) -> None:
    name = batch.destination.name
    metrics.count_outcomes(name, Counter(values["status"] for values in updates.values()))
    durations = [item.exchange.duration_ms / 1000 for item in sent if item.request.url]
    metrics.observe_attempts(name, durations)


def log_attempt(batch: Batch, item: Sent) -> None:
    attempt = DeliveryAttempt.objects.create(
        destination=batch.destination,
        mapping=batch.mapping,
        **attempt_record(item, batch.config.secret_values),
    )
    AttemptLink.objects.bulk_create(
        [
            AttemptLink(
                deliveryattempt=attempt,
                delivery=batch.deliveries[i],
                started_at=attempt.started_at,
            )
            for i in item.request.items
        ]
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


def update_state(batch: Batch, results: list[ItemResult], now: datetime) -> None:
    """The circuit breaker and the "failing since" banner (SPEC §5.6, §6)."""
    state = DestinationState.objects.select_for_update().get(destination=batch.destination)
    answered = any(result.outcome is not Outcome.RETRY for result in results)
    if batch.probe:
        state.probing = False
    if batch.probe and answered:  # the destination is up again, whatever it thought of the item
        state.paused_until = None
    if any(result.outcome is Outcome.DELIVERED for result in results):
        state.consecutive_failures = 0
        state.paused_until = None
        state.failing_since = None
    failures = [result for result in results if result.outcome is not Outcome.DELIVERED]
    if failures:
        state.last_error_code = failures[0].code
        state.last_error_message = failures[0].message
        state.last_error_at = now
    # A refused payload is the event's problem; these are the destination's.
    if any(r.outcome is Outcome.RETRY or r.code == "INVALID_AUTHENTICATION" for r in failures):
        state.failing_since = state.failing_since or now
    if failures and all(result.outcome is Outcome.RETRY for result in results):
        state.consecutive_failures += 1
        cooldown = timedelta(seconds=batch.destination.breaker_cooldown_seconds)
        if batch.probe or state.consecutive_failures >= batch.destination.breaker_threshold:
            state.paused_until = now + cooldown
    state.save()
