import gzip

import orjson
import pytest

from ingest.models import Event, Rejection
from tests.ingest.helpers import padded

KB = 1024
TRACK = {"userId": "u1", "event": "Signed Up"}
BATCH_ITEM = TRACK | {"type": "track"}


def post_raw(api, path: str, body: bytes, **headers):
    return api.post(path, content=body, headers={"Content-Type": "application/json", **headers})


def test_a_single_call_of_exactly_32_kb_is_accepted(api):
    body = orjson.dumps(padded(TRACK, 32 * KB))

    assert post_raw(api, "/v1/track", body).json() == {"success": True}
    assert Event.objects.count() == 1


def test_a_single_call_one_byte_over_32_kb_is_refused_whole(api):
    body = orjson.dumps(padded(TRACK, 32 * KB + 1))

    response = post_raw(api, "/v1/track", body)

    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert not Event.objects.exists()


def test_a_batch_item_of_exactly_32_kb_is_accepted(api):
    body = orjson.dumps({"batch": [padded(BATCH_ITEM, 32 * KB)]})

    assert post_raw(api, "/v1/batch", body).json() == {"success": True}


def test_a_batch_item_one_byte_over_32_kb_is_dropped_and_counted_and_the_rest_kept(api, source):
    items = [BATCH_ITEM, padded(BATCH_ITEM, 32 * KB + 1), BATCH_ITEM | {"event": "Second"}]

    response = post_raw(api, "/v1/batch", orjson.dumps({"batch": items}))

    assert response.json() == {
        "success": True,
        "rejected": [{"index": 1, "code": "event_too_large"}],
    }
    assert sorted(Event.objects.values_list("name", flat=True)) == ["Second", "Signed Up"]
    assert Rejection.objects.get(source=source, code="event_too_large").count == 1


def batch_of_size(size: int) -> bytes:
    """A batch body of exactly `size` bytes made of items under the per-event limit."""
    items = [padded(BATCH_ITEM, 25 * KB)] * (size // (25 * KB + 1))
    head = orjson.dumps({"batch": items})
    last = padded(BATCH_ITEM, size - len(head) - 1)  # 1: the comma before the last item
    body = orjson.dumps({"batch": [*items, last]})
    assert len(body) == size
    return body


def test_a_batch_of_exactly_500_kb_is_accepted(api):
    body = batch_of_size(500 * KB)

    assert post_raw(api, "/v1/batch", body).json() == {"success": True}
    assert Event.objects.count() == len(orjson.loads(body)["batch"])


def test_a_batch_one_byte_over_500_kb_is_refused_whole(api):
    response = post_raw(api, "/v1/batch", batch_of_size(500 * KB + 1))

    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert not Event.objects.exists()


def test_a_gzip_batch_that_inflates_to_exactly_500_kb_is_accepted(api):
    body = gzip.compress(batch_of_size(500 * KB))

    response = post_raw(api, "/v1/batch", body, **{"Content-Encoding": "gzip"})

    assert response.json() == {"success": True}


def test_a_gzip_batch_that_inflates_one_byte_over_500_kb_is_refused(api):
    body = gzip.compress(batch_of_size(500 * KB + 1))

    response = post_raw(api, "/v1/batch", body, **{"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"


def test_a_gzip_bomb_is_refused_without_inflating_it(api):
    bomb = gzip.compress(b" " * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 500 * KB

    response = post_raw(api, "/v1/batch", bomb, **{"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(("count", "accepted"), [(2500, True), (2501, False)])
def test_a_batch_holds_at_most_2500_events(api, count, accepted):
    body = orjson.dumps({"batch": [BATCH_ITEM | {"messageId": str(i)} for i in range(count)]})

    response = post_raw(api, "/v1/batch", body)

    if accepted:
        assert response.json() == {"success": True}
        assert Event.objects.count() == 2500
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "payload_too_large"
        assert "2,501" in response.json()["message"]
        assert not Event.objects.exists()
