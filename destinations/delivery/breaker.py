"""The circuit breaker and the "failing since" banner (docs/delivery.md, "Circuit breaker"), kept
from the answers of each claim's requests.

`breaker_threshold` requests in a row whose items all wait for a retry open the circuit for
`breaker_cooldown_seconds`; then one probe request decides. A claim of several requests
counts each of them, in the order they went. When the circuit closes after being open, the
destination's waiting retries become due at once (recovery.py).
"""

from datetime import datetime, timedelta

from django.db import transaction

from ..integrations.base import ItemResult, Outcome
from ..models import DestinationState
from . import recovery
from .batching import Batch
from .exchanges import Sent


def update_state(batch: Batch, sent: list[Sent], now: datetime) -> None:
    results = [result for item in sent for result in item.results]
    if not batch.probe and all(result.outcome is Outcome.DELIVERED for result in results):
        # The usual claim: only a destination that was failing has anything to clear, and a
        # healthy one's row is then neither locked nor written. (A circuit that another
        # request opened after this one was claimed closes here too; no probe comes, so its
        # waiting retries keep their backoff.)
        failing = DestinationState.objects.filter(destination=batch.destination).exclude(
            consecutive_failures=0, paused_until=None, failing_since=None
        )
        failing.update(consecutive_failures=0, paused_until=None, failing_since=None)
        return
    state = DestinationState.objects.select_for_update().get(destination=batch.destination)
    was_open = state.paused_until is not None
    judge(state, batch, sent, results, now)
    state.save()
    if was_open and state.paused_until is None:
        transaction.on_commit(lambda: recovery.due_at_once(batch.destination.pk))


def judge(
    state: DestinationState,
    batch: Batch,
    sent: list[Sent],
    results: list[ItemResult],
    now: datetime,
) -> None:
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
    if failed_in_a_row := trailing_failures(sent):
        state.consecutive_failures += failed_in_a_row
        cooldown = timedelta(seconds=batch.destination.breaker_cooldown_seconds)
        if batch.probe or state.consecutive_failures >= batch.destination.breaker_threshold:
            state.paused_until = now + cooldown


def trailing_failures(sent: list[Sent]) -> int:
    """The requests at the end of the claim whose items all wait for a retry."""
    count = 0
    for item in reversed(sent):
        if not item.results or any(r.outcome is not Outcome.RETRY for r in item.results):
            break
        count += 1
    return count
