"""The deliveries the router and replays make, as rows to insert.

A `NewDelivery` holds only what a new row sets; the other columns start empty. It is not a
`Delivery` instance because building one per routed event (Django's Model.__init__) stood
high in the router's profile; with the claim's light rows (routing.Unrouted), dropping model
instances took a third off the router's CPU per event.
"""

from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson

from infra.bulk import insert_rows

from ..models import Delivery
from . import lanes, tallies
from .decisions import Decision, Route, decide
from .transforming import Failure, Form

ROUTING_ERROR = "ROUTING_ERROR"
MESSAGE_LENGTH = 1000


@dataclass(slots=True)
class NewDelivery:
    event_id: int
    event_received_at: datetime
    mapping_id: int
    destination_id: int
    created_at: datetime
    next_attempt_at: datetime
    replay: bool = False
    replay_of_id: int | None = None
    status: str = Delivery.Status.PENDING
    payload: Any = None
    payload_bytes: int = 0
    attempts: int = 0
    error_code: str = ""
    error_message: str = ""
    part: int = 0
    transformed_by: list[int] | None = None
    lane: int | None = None
    position: int | None = None

    def fail(self, code: str, message: str) -> "NewDelivery":
        self.status = Delivery.Status.FAILED
        self.error_code, self.error_message = code, message
        return self


COLUMNS = tuple(field.name for field in fields(NewDelivery))
values_of = attrgetter(*COLUMNS)


def new_delivery(
    event: Any,
    route: Route,
    now: datetime,
    form: Form | None = None,
    outcome: Failure | Decision | None = None,
    replay_of: Delivery | None = None,
    replay=False,
    position: int | None = None,
) -> NewDelivery:
    """A pending delivery with its mapped payload, or a failed one saying why there is none.
    `form` is the event as transformed (the event itself when None); `outcome` is the
    transformation's failure or the mapping's decision (made here, whatever the trigger says,
    when None: a replay of a delivery made before). At a destination that keeps order, its
    user's lane and its `position` there: its event's id unless given (a replay's)."""
    form = form or Form(event.payload)
    delivery = empty_delivery(event, route, now, replay_of, replay)
    delivery.part = form.part
    failure = outcome if isinstance(outcome, Failure) else None
    delivery.transformed_by = list((failure or form).transformed_by or ()) or None
    if failure:
        return delivery.fail(failure.code, failure.message)
    decision = outcome or decide(route, form.payload, forced=True)
    if decision.problem:
        return delivery.fail(decision.problem.code, decision.problem.message)
    delivery.payload = decision.payload
    delivery.payload_bytes = len(orjson.dumps(delivery.payload))
    if route.keep_order and (lane := lanes.lane_of(form.payload)) is not None:
        delivery.lane, delivery.position = lane, position or event.pk
    return delivery


def routing_failed(
    event: Any,
    route: Route,
    now: datetime,
    error: Exception,
    replay_of: Delivery | None = None,
    replay=False,
) -> NewDelivery:
    """A failed delivery that says what stopped the event on its way to this mapping."""
    delivery = empty_delivery(event, route, now, replay_of, replay)
    return delivery.fail(ROUTING_ERROR, f"{type(error).__name__}: {error}"[:MESSAGE_LENGTH])


def empty_delivery(
    event: Any, route: Route, now: datetime, replay_of: Delivery | None = None, replay=False
) -> NewDelivery:
    return NewDelivery(
        event_id=event.pk,
        event_received_at=event.received_at,
        mapping_id=route.mapping_id,
        destination_id=route.destination_id,
        created_at=now,
        next_attempt_at=now,
        replay=replay or replay_of is not None,
        replay_of_id=replay_of.pk if replay_of is not None else None,
    )


def insert_deliveries(deliveries: list[NewDelivery], ignore_conflicts: bool = False) -> None:
    """One INSERT (bulk_create's per-value escaping was most of the router's time); the
    deliveries born failed are outcomes of their destination's, and counted."""
    rows = (dict(zip(COLUMNS, values_of(delivery), strict=True)) for delivery in deliveries)
    insert_rows(Delivery, rows, ignore_conflicts=ignore_conflicts)
    tallies.count_born_failed(deliveries)
