"""What the delivery log reads (docs/admin.md, "Delivery log"): list rows, filter choices, one
delivery or attempt.

Every function runs a fixed number of queries, whatever the number of rows: the log must stay
fast with millions of deliveries.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from ..delivery.exchanges import ShownExchange
from ..delivery.new_deliveries import ROUTING_ERROR
from ..delivery.transport import INVALID_REQUEST, PRIVATE_ADDRESS, status_code_name
from ..models import Delivery, DeliveryAttempt, Destination, DestinationState, Mapping

# The list shows these columns; payloads (up to 32 KB each, twice) stay in the database.
LOG_COLUMNS = (
    "status",
    "created_at",
    "attempts",
    "last_status_code",
    "error_code",
    "replay",
    "waits_on",
    "destination__name",
    "mapping__name",
    "event__message_id",
    "event__user_id",
    "event__type",
    "event__name",
)
ATTEMPT_LOG_COLUMNS = (
    "started_at",
    "duration_ms",
    "item_count",
    "outcome",
    "request_method",
    "response_status",
    "error_code",
    "destination__name",
    "mapping__name",
)
# An attempt's row in a delivery's history; its headers and bodies are read for the sample only.
ATTEMPT_SUMMARY = (
    "started_at",
    "duration_ms",
    "item_count",
    "outcome",
    "request_method",
    "response_status",
    "error_code",
    "error_message",
)
# The codes the dispatcher and router write, and the HTTP statuses destinations answer most:
# listing the codes actually stored would need a DISTINCT over the whole table.
KNOWN_ERROR_CODES = (
    "ECONNREFUSED",
    "ECONNRESET",
    "ENOTFOUND",
    "ETIMEDOUT",
    INVALID_REQUEST,
    PRIVATE_ADDRESS,
    "UNKNOWN_ERROR",
    "SECRET_MISSING",
    "INVALID_AUTHENTICATION",
    "UNEXPECTED_REDIRECT",
    "MAPPING_INVALID",
    "MAPPING_FAILED",
    ROUTING_ERROR,
    "PAYLOAD_VALIDATION_FAILED",
    *(
        f"TRANSFORMATION_{kind}"
        for kind in ("ERROR", "TIMEOUT", "MEMORY", "RESULT", "SCRIPT", "PAUSED")
    ),
    *(status_code_name(status) for status in (400, 404, 408, 413, 422, 429, 500, 502, 503, 504)),
)
# A batch can carry a thousand deliveries; an attempt's page links the first ones.
CARRIED_SHOWN = 100


def delivery_log() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("destination", "mapping", "event").only(*LOG_COLUMNS)


def attempt_log() -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.select_related("destination", "mapping").only(
        *ATTEMPT_LOG_COLUMNS
    )


def created_between(
    deliveries: QuerySet[Delivery], start: datetime | None, end: datetime | None
) -> QuerySet[Delivery]:
    """Deliveries created in [start, end); either bound may be open."""
    if start is not None:
        deliveries = deliveries.filter(created_at__gte=start)
    if end is not None:
        deliveries = deliveries.filter(created_at__lt=end)
    return deliveries


def with_message_or_user_id(deliveries: QuerySet[Delivery], term: str) -> QuerySet[Delivery]:
    """The deliveries of the event with this messageId, or of this userId's events: equality
    on indexed columns, never LIKE."""
    return deliveries.filter(Q(event__message_id=term) | Q(event__user_id=term))


def destination_choices() -> list[tuple[int, str]]:
    return list(Destination.objects.order_by("name").values_list("pk", "name"))


def mapping_choices(destination_id: str | None) -> list[tuple[int, str]]:
    """Mappings as "Destination / mapping", only the chosen destination's if one is chosen."""
    mappings = Mapping.objects.order_by("destination__name", "name")
    if destination_id and destination_id.isdigit():
        mappings = mappings.filter(destination_id=destination_id)
    rows = mappings.values_list("pk", "destination__name", "name")
    return [(pk, f"{destination} / {name}") for pk, destination, name in rows]


def error_code_choices(selected: str | None) -> list[str]:
    """The known codes, each destination's latest one, and the one asked for by the URL."""
    latest = DestinationState.objects.exclude(last_error_code="").values_list(
        "last_error_code", flat=True
    )
    return sorted({*KNOWN_ERROR_CODES, *latest, *([selected] if selected else [])})


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: Delivery
    attempts: list[DeliveryAttempt]  # newest first, without headers and bodies
    sample: ShownExchange | None  # the newest attempt that carried a request (else the newest)
    replays: list[Delivery]

    @property
    def you_sent(self) -> Any:
        return self.delivery.event.payload


def delivery_detail(delivery_id: int) -> DeliveryDetail | None:
    delivery = (
        Delivery.objects.select_related("event", "mapping", "destination", "replay_of")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None
    attempts = list(
        DeliveryAttempt.objects.filter(deliveries=delivery)
        .only(*ATTEMPT_SUMMARY)
        .order_by("-started_at", "-pk")
    )
    # An attempt that never left (the dispatcher failed before sending) has no request.
    sampled = next((a for a in attempts if a.request_method), attempts[0] if attempts else None)
    sample = ShownExchange.of(DeliveryAttempt.objects.get(pk=sampled.pk)) if sampled else None
    # replay_of too: the related manager sets it on each row, and would load it one by one.
    replays = list(delivery.replays.only("status", "created_at", "replay_of").order_by("pk"))
    return DeliveryDetail(delivery, attempts, sample, replays)


@dataclass(frozen=True)
class AttemptDetail:
    attempt: DeliveryAttempt
    sample: ShownExchange
    carried: list[Delivery]  # the first CARRIED_SHOWN deliveries of the request

    @property
    def carried_not_shown(self) -> int:
        return max(self.attempt.item_count - len(self.carried), 0)


def attempt_detail(attempt_id: int) -> AttemptDetail | None:
    attempt = (
        DeliveryAttempt.objects.select_related("destination", "mapping")
        .filter(pk=attempt_id)
        .first()
    )
    if attempt is None:
        return None
    carried = list(
        attempt.deliveries.select_related("event")
        .only("status", "event__message_id", "event__user_id")
        .order_by("pk")[:CARRIED_SHOWN]
    )
    return AttemptDetail(attempt, ShownExchange.of(attempt), carried)
