"""At most ROUTER_PROCESSES routers run at once (destinations/delivery/routing.py): a router
started while every slot is held leaves the events to the ones running, so that a backlog
cannot take every worker process from the dispatchers."""

import time

import psycopg
import pytest
from django.db import connection

from destinations.delivery.routing import route_new_events
from ingest.models import Event
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, track
from tests.servers import settings_refusal

NOWHERE = "http://127.0.0.1:9"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has one writer: no slots to share"
)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def other_router(db):
    """Another process's session, holding router slots as a running router does."""
    settings = connection.settings_dict
    session = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], autocommit=True
    )

    def hold(number: int) -> None:
        session.execute("SELECT pg_advisory_lock(hashtext('switchyard:router'), %s)", [number])

    yield hold
    session.close()


def unrouted() -> int:
    return Event.objects.filter(routed_at__isnull=True).count()


def test_a_router_started_while_every_slot_is_held_routes_nothing(source, settings, other_router):
    settings.ROUTER_PROCESSES = 2
    scenario.webhook(source, NOWHERE)
    ingest(source, track(1), track(2))
    other_router(0)
    other_router(1)

    assert route_new_events() == 0
    assert unrouted() == 2


def test_a_router_takes_a_free_slot_beside_one_held(source, settings, other_router):
    settings.ROUTER_PROCESSES = 2
    scenario.webhook(source, NOWHERE)
    ingest(source, track(1), track(2))
    other_router(0)

    assert route_new_events() == 2
    assert unrouted() == 0


def test_the_slot_of_a_router_whose_process_died_is_free_again(source, settings):
    settings.ROUTER_PROCESSES = 1
    scenario.webhook(source, NOWHERE)
    ingest(source, track(1))
    settings_dict = connection.settings_dict
    dead = psycopg.connect(
        dbname=settings_dict["NAME"], user=settings_dict["USER"], host=settings_dict["HOST"]
    )
    dead.execute("SELECT pg_advisory_lock(hashtext('switchyard:router'), 0)")
    dead.close()  # what the server sees when a worker is killed: its session ends
    wait_until_released()

    assert route_new_events() == 1


def wait_until_released(seconds: float = 5.0) -> None:
    """The server ends a closed session's backend, and frees its locks, a moment later."""
    held = (
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE l.locktype = 'advisory' AND l.objid = 0 AND d.datname = current_database()"
    )
    ends_at = time.monotonic() + seconds
    with connection.cursor() as cursor:
        cursor.execute(held)
        while cursor.fetchone()[0]:
            assert time.monotonic() < ends_at, "the closed session still holds its slot"
            time.sleep(0.01)
            cursor.execute(held)


def test_a_router_leaving_its_slot_rings_for_events_that_came_while_all_were_held(
    source, settings, rings, monkeypatch
):
    """A ring that found every slot held was dropped; the last router out must not leave
    the events it did not claim to wait for the sweeper."""
    from destinations.delivery import routing

    settings.ROUTER_PROCESSES = 1
    scenario.webhook(source, NOWHERE)
    ingest(source, track(1))
    claim = routing.claim_unrouted_events

    def claim_then_one_more_arrives():
        claimed = claim()
        if not claimed:
            ingest(source, track(2))  # committed after this router's last look
        return claimed

    monkeypatch.setattr(routing, "claim_unrouted_events", claim_then_one_more_arrives)

    route_new_events()

    assert ("destinations.route", [], 0.0) in rings


def test_no_router_slot_at_all_is_refused_at_startup():
    refusal = settings_refusal(ROUTER_PROCESSES="0")

    assert "ROUTER_PROCESSES must be at least 1" in refusal
