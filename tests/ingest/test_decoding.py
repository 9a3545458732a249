import gzip

import orjson

from ingest.models import Event

TRACK = {"userId": "u1", "event": "Signed Up"}


def test_a_text_plain_body_is_parsed_as_json(api):
    response = api.post(
        "/v1/t", content=orjson.dumps(TRACK), headers={"Content-Type": "text/plain"}
    )

    assert response.json() == {"success": True}
    assert Event.objects.get().name == "Signed Up"


def test_a_body_without_content_type_is_parsed_as_json(api):
    response = api.post("/v1/track", content=orjson.dumps(TRACK), headers={"Content-Type": ""})

    assert response.json() == {"success": True}


def test_a_gzip_body_is_decompressed(api):
    body = gzip.compress(orjson.dumps({"batch": [TRACK | {"type": "track"}] * 3}))

    response = api.post("/v1/batch", content=body, headers={"Content-Encoding": "gzip"})

    assert response.json() == {"success": True}
    assert Event.objects.count() == 3


def test_a_body_that_is_not_json_is_a_bad_request(api):
    response = api.post("/v1/track", content=b"{not json", headers={"Content-Type": "text/plain"})

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert "JSON" in response.json()["message"]


def test_a_json_body_that_is_not_an_object_is_a_bad_request(api):
    response = api.post("/v1/track", json=[TRACK])

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_a_batch_without_a_batch_array_is_a_bad_request(api):
    response = api.post("/v1/batch", json={"batch": {"type": "track"}})

    assert response.status_code == 400
    assert "'batch' must be an array" in response.json()["message"]


def test_a_batch_envelope_context_that_is_not_an_object_is_a_bad_request(api):
    response = api.post("/v1/batch", json={"batch": [], "context": "web"})

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_a_broken_gzip_body_is_a_bad_request(api):
    response = api.post("/v1/track", content=b"not gzip", headers={"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert "gzip" in response.json()["message"]


def test_a_truncated_gzip_body_is_a_bad_request(api):
    body = gzip.compress(orjson.dumps(TRACK))[:-6]

    response = api.post("/v1/track", content=body, headers={"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert "truncated" in response.json()["message"]


def test_an_unknown_content_encoding_is_a_bad_request(api):
    response = api.post(
        "/v1/track", content=orjson.dumps(TRACK), headers={"Content-Encoding": "br"}
    )

    assert response.status_code == 400
    assert "Content-Encoding" in response.json()["message"]


def test_escaped_nul_characters_are_removed_before_storage(api):
    body = b'{"userId": "u\\u00001", "event": "Signed\\u0000 Up", "properties": {"k\\u0000": 1}}'

    assert api.post("/v1/track", content=body).json() == {"success": True}

    payload = Event.objects.get().payload
    assert (payload["userId"], payload["event"], payload["properties"]) == (
        "u1",
        "Signed Up",
        {"k": 1},
    )
