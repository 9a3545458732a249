import httpx

from ingest.models import Event
from tests.servers import gunicorn


def test_events_are_stored_and_acknowledged_when_redis_is_unreachable(transactional_db, source):
    with gunicorn(CELERY_BROKER_URL="redis://127.0.0.1:1/0") as url:
        response = httpx.post(
            f"{url}/v1/track",
            json={"userId": "u1", "event": "Signed Up"},
            auth=(source.write_key, ""),
            timeout=30,
        )

    assert response.json() == {"success": True}
    event = Event.objects.get()
    assert event.routed_at is None  # waiting for the sweeper, not lost
