"""What becomes of an item after a request (docs/delivery.md, "Retries"): delivered; failed for good
(the dead letter, kept with its attempts), or retried after an exponential backoff with full jitter,
or after the destination's Retry-After, until the retry window has passed and at least 3
attempts were made."""

import random
from datetime import datetime, timedelta
from typing import Any

from ..integrations.base import ItemResult, Outcome
from ..models import Delivery, Destination
from .exchanges import Sent

MIN_ATTEMPTS_BEFORE_GIVING_UP = 3


def outcome_values(
    destination: Destination, delivery: Delivery, item: Sent, result: ItemResult, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_status_code": item.exchange.status,
        "error_code": result.code,
        "error_message": result.message,
    }
    if result.outcome is Outcome.DELIVERED:
        return values | {"status": Delivery.Status.DELIVERED, "delivered_at": now}
    first_attempt = delivery.first_attempt_at or item.exchange.started_at
    attempts = delivery.attempts + 1
    window = timedelta(seconds=destination.retry_window_seconds)
    given_up = now - first_attempt >= window and attempts >= MIN_ATTEMPTS_BEFORE_GIVING_UP
    if result.outcome is Outcome.FAILED or given_up:
        return values | {"status": Delivery.Status.FAILED}
    delay = retry_delay(destination, attempts, result.retry_after)
    return values | {"status": Delivery.Status.RETRYING, "next_attempt_at": now + delay}


def retry_delay(destination: Destination, attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with full jitter, unless the destination said when to come back."""
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    exponent = min(attempts - 1, 64)  # far past any cap; 2.0 ** 1024 would overflow a float
    ceiling = min(destination.retry_cap_seconds, destination.retry_base_seconds * 2**exponent)
    # A floor keeps a near-zero draw from resending at once, in a tight loop.
    floor = destination.retry_base_seconds / 10
    return timedelta(seconds=max(floor, random.uniform(0, ceiling)))
