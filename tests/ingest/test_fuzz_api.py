"""Schemathesis against the Tracking API's own OpenAPI description (issue 8).

Hundreds of generated requests, schema-valid and not, through the real WSGI application:
no answer may be a 5xx, and every answer must match what /api/schema/ promises. One check
is left out on purpose: a message that breaks the schema is answered 200 with its index in
`rejected`, not 400, as Segment does (docs/tracking-api.md, "Validation": a 400 makes
analytics-python drop the whole batch). The schema cannot describe hostile items (nested past the
limit, holding what JSON cannot carry), so generated batches of them go through the live server too.
"""

import base64

import orjson
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection

from ingest.models import Event
from project.wsgi import application
from tests.ingest.helpers import message_of_depth, nested, with_property

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def auth_header(source) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()}


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Called in-process, the app would close the connection that holds the test's
    transaction at the end of each request (Django's test client holds it open the same way)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_tracking_api_keeps_its_schema_and_never_fails(case, auth_header):
    case.call_and_validate(headers=auth_header, excluded_checks=[negative_data_rejection])


GOOD = {"type": "track", "userId": "u1", "event": "Good"}
# Raw JSON items as hostile clients write them, each with the code it must be rejected with;
# nested to 300 levels at most, which Python's decoder (the one for bodies orjson refuses
# for a value's sake) still reads. tests/ingest/test_hostile_items.py goes to 1,000.
hostile_items = (
    st.integers(65, 300).map(lambda depth: (message_of_depth(GOOD, depth), "too_deep"))
    | st.sampled_from([b'"cut \\ud83d"', b'"\\udc00"', b"NaN", b"[Infinity]", b"-1e400"]).map(
        lambda value: (with_property(GOOD, value), "unencodable")
    )
    | st.integers(1, 300).map(lambda depth: (nested(depth), "invalid_message"))
)
batch_items = st.lists(st.just((orjson.dumps(GOOD), None)) | hostile_items, max_size=6)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=batch_items)
def test_hostile_items_in_a_batch_are_rejected_by_index_and_the_good_ones_stored(api, items):
    stored_before = Event.objects.count()
    body = b'{"batch":[' + b",".join(item for item, _ in items) + b"]}"

    response = api.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    expected = [{"index": i, "code": code} for i, (_, code) in enumerate(items) if code]
    assert response.json().get("rejected", []) == expected
    good = sum(1 for _, code in items if code is None)
    assert Event.objects.count() - stored_before == good
