import base64

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingest.models import Event


def test_a_100_event_batch_is_stored_with_one_insert(client, source):
    batch = [{"type": "track", "userId": f"u{i}", "event": "Viewed"} for i in range(100)]

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/v1/batch",
            {"batch": batch},
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth(source.write_key),
        )

    assert response.json() == {"success": True}
    assert Event.objects.count() == 100
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1, inserts
    assert len(queries.captured_queries) <= 4, [q["sql"][:80] for q in queries.captured_queries]


def basic_auth(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
