"""Claiming due deliveries for one destination request, or a few in a row (docs/delivery.md,
"Claims and leases").

A claim reads its due deliveries first, each row locked as it is read (SKIP LOCKED keeps
two claims of a mapping apart), and at a destination that keeps order checks their lanes.
Only then does it lock the destination's state row, for the admission: the circuit breaker,
the concurrency cap and the rate limit are decided there, exactly, and the claimed rows move
to `in_flight` with a lease before the transaction commits, before any HTTP call. So claims
of one destination queue on that lock for three statements, not for the due query. A worker
that dies leaves a lease that the sweeper reclaims.

The due query stays O(batch) whatever the backlog: it reads the first entries of
`delivery_due`, whose columns are the claim's order, in each partition, and stops (a Merge
Append of index scans; tests/destinations/delivery/dispatch/test_claim_plan.py holds the plan
on a million waiting rows).

A mapping whose requests carry few items (batch size 1, most webhooks) claims up to
`CLAIM_MAX_DELIVERIES` at once, as several requests that one worker sends one after another:
the claim and the record of the outcomes then cost one transaction each for all of them. The
requests of one claim are never in flight together, so a claim is still one request against
the concurrency cap; a rate-limited destination, whose slots are one request each, and a probe
claim one request only.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from infra import planner

from ..integrations.base import Action, Config
from ..models import Delivery, Destination, DestinationState, Mapping
from . import doorbell, holds, lanes

DUE = (Delivery.Status.PENDING, Delivery.Status.RETRYING)
# What a claim reads of each due delivery: what sending it and recording its outcome need.
CLAIMED_FIELDS = (
    "id",
    "event_id",
    "event_received_at",
    "status",
    "payload",
    "payload_bytes",
    "attempts",
    "first_attempt_at",
    "next_attempt_at",
    "replay",
    "lane",
    "position",
)
# Reads a claim makes at most at a destination that keeps order, past the deliveries it held,
# to fill its requests.
REREADS = 3


@dataclass(frozen=True)
class Batch:
    """Claimed deliveries, in order, and how many of them each request carries."""

    claim: uuid.UUID
    mapping: Mapping
    destination: Destination
    action: Action
    config: Config
    deliveries: list[Delivery]
    probe: bool
    request_sizes: tuple[int, ...]

    def requests(self) -> list[tuple[int, ...]]:
        """The deliveries' indexes, request by request."""
        bounds, start = [], 0
        for size in self.request_sizes:
            bounds.append(tuple(range(start, start + size)))
            start += size
        return bounds


def claim_batch(mapping_id: int) -> Batch | None:
    """Claim the mapping's next requests if they are ready and the destination may take them.

    The due deliveries are read and checked first, locked row by row (SKIP LOCKED keeps two
    claims apart); only then is the destination's state row locked, for the admission alone:
    the circuit, the concurrency cap and the rate limit, and the move to in_flight. So claims
    of one destination queue on that lock for a few statements, not for the due query and the
    lanes' checks."""
    with transaction.atomic():
        mapping = (
            Mapping.objects.select_related("destination", "destination__state")
            .filter(pk=mapping_id)
            .first()
        )
        if mapping is None or not (mapping.enabled and mapping.destination.enabled):
            return None
        destination = mapping.destination
        now = timezone.now()
        probe = circuit_allows(current_state(destination), now)
        # Looked at unlocked first, so that claims of a destination that is full or paused
        # read no due rows; decided under the lock below.
        if probe is None or in_flight_requests(destination, now) >= destination.max_concurrency:
            return None
        size = 1 if probe else mapping.effective_batch_size
        requests = requests_per_claim(destination, size, probe)
        if (read := read_requests(mapping, size, requests, probe, now)) is None:
            return None
        groups, backlogged = read
        state = lock_state(destination)
        now = timezone.now()
        if not admitted(mapping, state, probe, now):
            return None
        groups = to_send(groups, requests, probe or destination.rate_limit)
        if not backlogged:  # else short only of deliveries waiting on their users: all go
            groups = ready_groups(mapping, groups, size, now)
        deliveries = [delivery for group in groups for delivery in group]
        claim = uuid.uuid4()
        lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        Delivery.objects.of(deliveries).update(
            status=Delivery.Status.IN_FLIGHT, claim=claim, lease_expires_at=lease
        )
        if probe or destination.rate_limit:
            state.probing = probe
            state.save(update_fields=["probing", "next_request_at"])
    sizes = tuple(len(group) for group in groups)
    return Batch(
        claim,
        mapping,
        destination,
        mapping.action_spec,
        destination.config(),
        deliveries,
        probe,
        sizes,
    )


def read_requests(
    mapping: Mapping, size: int, requests: int, probe: bool, now: datetime
) -> tuple[list[list[Delivery]], bool] | None:
    """The due deliveries cut into requests, and whether the claim read past deliveries that
    wait on their users; None when nothing is to go yet. Those that wait are held, unless
    the first request waits to fill: the next claim then reads them again, and counts them
    towards filling it."""
    due, backlogged, waiting = due_in_order(mapping, size * requests)
    groups = request_groups(due, size, mapping.action_spec.max_batch_bytes)
    full = probe or backlogged or is_full(groups, size)
    if groups and not batch_ready(mapping, groups[0], full, now):
        return None
    holds.hold(mapping.destination_id, waiting)
    return (groups, backlogged) if groups else None


def admitted(mapping: Mapping, state: DestinationState, probe: bool, now: datetime) -> bool:
    """Whether the destination takes the claim now, decided under its state row's lock: the
    circuit as it was read before (a claim made for a probe, or not, is that or nothing), a
    free slot under the concurrency cap and a rate limit slot."""
    destination = mapping.destination
    if (now_allows := circuit_allows(state, now)) is not probe:
        if now_allows is not None:  # it moved while the claim read: the next one reads again
            transaction.on_commit(lambda: doorbell.ring_dispatchers([mapping.pk]))
        return False
    if in_flight_requests(destination, now) >= destination.max_concurrency:
        return False
    if not rate_allows(destination, state, now):
        doorbell.ring_dispatcher_at(mapping.pk, state.next_request_at)
        return False
    return True


def requests_per_claim(destination: Destination, size: int, probe: bool) -> int:
    if probe or destination.rate_limit:
        return 1
    return max(1, settings.CLAIM_MAX_DELIVERIES // size)


def current_state(destination: Destination) -> DestinationState:
    """The state as read with the mapping, unlocked: enough to see an open circuit."""
    try:
        return destination.state
    except DestinationState.DoesNotExist:
        return DestinationState(destination=destination)


def lock_state(destination: Destination) -> DestinationState:
    locked = DestinationState.objects.select_for_update()
    if state := locked.filter(destination=destination).first():
        return state
    DestinationState.objects.get_or_create(destination=destination)
    return locked.get(destination=destination)


def circuit_allows(state: DestinationState, now: datetime) -> bool | None:
    """None: the circuit is open (paused) or a probe is out; True: send one probe; False:
    closed, send as usual."""
    if state.paused_until is None:
        return False
    if state.probing or now < state.paused_until:
        return None
    return True


def in_flight_requests(destination: Destination, now: datetime) -> int:
    held = Delivery.objects.filter(
        destination=destination, status=Delivery.Status.IN_FLIGHT, lease_expires_at__gt=now
    )
    return held.values("claim").distinct().count()


def due_in_order(mapping: Mapping, size: int) -> tuple[list[Delivery], bool, dict]:
    """The deliveries to claim, whether more were due than these, and the deliveries read
    that must wait on their users (lanes.in_order). At a destination that keeps order, the
    deliveries to claim are those of the first due ones that open their user's lane
    (lanes.py). When some had to wait, the claim reads past them, a few times, to fill its
    requests: one blocked user, however busy, neither stops the claim nor leaves its batch
    waiting to fill."""
    planner.in_index_order()  # for every read of the claim: the due query's and the lanes'
    if not mapping.destination.keep_order:
        return list(due_query(mapping, size)), False, {}
    going: list[Delivery] = []
    waiting: dict[Delivery, lanes.Entry] = {}
    seen: list[int] = []
    # Exactly what the requests take: rows read are locked until the claim commits, and a
    # claim that read into the next request's rows would leave a claim beside it one short
    # of a full request, waiting. A read that held some reads on past them instead.
    wanted = size
    for _ in range(REREADS):
        due, read = lanes.read_due(due_query(mapping, wanted, seen), mapping.destination_id, going)
        found, held = lanes.in_order(due, going, read)
        going += found
        waiting |= held
        seen += [delivery.pk for delivery in due]
        # Nothing held, enough found, or nothing more due: the read stands.
        if not held or len(going) >= size or len(due) < wanted:
            return going[:size], len(seen) >= size, waiting
        wanted = size - len(going)
    if not going:
        # Due deliveries may be left behind the ones held: this claim is over, not the work.
        transaction.on_commit(lambda: doorbell.ring_dispatchers([mapping.pk]))
    return going, True, waiting


def due_query(mapping: Mapping, size: int, seen: list[int] = ()) -> QuerySet[Delivery]:
    """The first `size` due deliveries, oldest first, each locked as it is read (SKIP LOCKED:
    another claim's rows are stepped over), less those already `seen`."""
    due = Delivery.objects.filter(
        mapping=mapping, status__in=DUE, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at", "id")
    if seen:
        due = due.exclude(pk__in=seen)
    return due.select_for_update(skip_locked=True).only(*CLAIMED_FIELDS)[:size]


def is_full(groups: list[list[Delivery]], size: int) -> bool:
    """Full by count, or by bytes: the due deliveries did not fit one request. (A claim that
    read past deliveries waiting on their users is `backlogged`, and goes now too.)"""
    return len(groups) > 1 or (bool(groups) and len(groups[0]) >= size)


def batch_ready(mapping: Mapping, first: list[Delivery], full: bool, now: datetime) -> bool:
    """A request goes when full or when its oldest delivery has waited the flush interval."""
    if full:
        return True
    if flush_due(mapping, first) <= now:
        return True
    doorbell.ring_dispatcher_at(mapping.pk, flush_due(mapping, first))
    return False


def flush_due(mapping: Mapping, group: list[Delivery]) -> datetime:
    return min(d.next_attempt_at for d in group) + timedelta(seconds=mapping.flush_interval)


def to_send(groups: list[list[Delivery]], requests: int, one: bool) -> list[list[Delivery]]:
    """The claim's first `requests` requests, and one more where retries lead: their request
    goes apart from the first attempts, not in their place ("Retries go apart"). `one`: a
    probe and a rate-limited destination send one request per claim, whatever it holds."""
    if not one and groups[0][0].attempts and len(groups) > requests:
        requests += 1
    return groups[:requests]


def ready_groups(
    mapping: Mapping, groups: list[list[Delivery]], size: int, now: datetime
) -> list[list[Delivery]]:
    """The first request, and those after it that would go on their own: full, or waited
    their flush interval (a partial last one otherwise waits for more deliveries)."""
    last = groups[-1]
    if len(groups) > 1 and len(last) < size and flush_due(mapping, last) > now:
        return groups[:-1]
    return groups


def rate_allows(destination: Destination, state: DestinationState, now: datetime) -> bool:
    """Token spacing: each request takes the next free slot, 1/rate seconds apart."""
    if not destination.rate_limit:
        return True
    slot = max(now, state.next_request_at or now)
    if slot > now:
        state.next_request_at = slot
        return False
    state.next_request_at = slot + timedelta(seconds=1 / destination.rate_limit)
    return True


def request_groups(due: list[Delivery], size: int, max_bytes: int | None) -> list[list[Delivery]]:
    """The due deliveries cut into requests: retries first, then first attempts, never the
    two in one request. A delivery that failed may fail again, and a request refused whole
    (a 503) would take its neighbours with it every time (docs/delivery.md, "Retries go
    apart")."""
    retries, firsts = retries_apart(due)
    return cut_into_requests(retries, size, max_bytes) + cut_into_requests(firsts, size, max_bytes)


def retries_apart(due: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
    """The retries and the first attempts, each in the order given. A retry that comes
    after a first attempt of its own lane stays with the first attempts, behind it."""
    retries: list[Delivery] = []
    firsts: list[Delivery] = []
    lanes_in_firsts: set[int] = set()
    for delivery in due:
        if delivery.attempts and delivery.lane not in lanes_in_firsts:
            retries.append(delivery)
            continue
        firsts.append(delivery)
        if delivery.lane is not None:
            lanes_in_firsts.add(delivery.lane)
    return retries, firsts


def cut_into_requests(
    due: list[Delivery], size: int, max_bytes: int | None
) -> list[list[Delivery]]:
    """Deliveries cut into requests, in order: at most `size` each, and at most max_bytes of
    JSON array each (a delivery larger than that goes alone)."""
    groups: list[list[Delivery]] = []
    total = 0
    for delivery in due:
        # "[" and "]" less the comma the last item does without, then each item and its comma.
        grown = total + delivery.payload_bytes + 1
        if groups and len(groups[-1]) < size and not (max_bytes and grown > max_bytes):
            groups[-1].append(delivery)
            total = grown
        else:
            groups.append([delivery])
            total = 1 + delivery.payload_bytes + 1
    return groups
