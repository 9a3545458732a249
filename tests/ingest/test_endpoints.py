import pytest

from ingest.models import Event

SINGLE_ENDPOINTS = [
    ("identify", "identify", {"userId": "u1", "traits": {"plan": "pro"}}),
    ("i", "identify", {"userId": "u1", "traits": {"plan": "pro"}}),
    ("track", "track", {"userId": "u1", "event": "Signed Up"}),
    ("t", "track", {"userId": "u1", "event": "Signed Up"}),
    ("page", "page", {"anonymousId": "a1", "name": "Home"}),
    ("p", "page", {"anonymousId": "a1", "name": "Home"}),
    ("screen", "screen", {"anonymousId": "a1", "name": "Settings"}),
    ("s", "screen", {"anonymousId": "a1", "name": "Settings"}),
    ("group", "group", {"userId": "u1", "groupId": "g1"}),
    ("g", "group", {"userId": "u1", "groupId": "g1"}),
    ("alias", "alias", {"userId": "u1", "previousId": "a1"}),
    ("a", "alias", {"userId": "u1", "previousId": "a1"}),
]


@pytest.mark.parametrize(("path", "message_type", "body"), SINGLE_ENDPOINTS)
def test_each_single_endpoint_stores_a_message_of_its_type(api, path, message_type, body):
    response = api.post(f"/v1/{path}", json=body)

    assert response.status_code == 200
    assert response.json() == {"success": True}
    event = Event.objects.get()
    assert event.type == message_type
    assert event.payload["type"] == message_type


def test_the_path_decides_the_type_of_a_single_message(api):
    api.post("/v1/track", json={"type": "identify", "userId": "u1", "event": "Clicked"})

    assert Event.objects.get().type == "track"


@pytest.mark.parametrize("path", ["batch", "import", "b"])
def test_each_batch_endpoint_stores_mixed_types(api, path):
    batch = [body | {"type": message_type} for _, message_type, body in SINGLE_ENDPOINTS[::2]]

    response = api.post(f"/v1/{path}", json={"batch": batch})

    assert response.json() == {"success": True}
    assert sorted(Event.objects.values_list("type", flat=True)) == sorted(
        item["type"] for item in batch
    )


def test_an_empty_batch_succeeds_and_stores_nothing(api):
    assert api.post("/v1/batch", json={"batch": []}).json() == {"success": True}
    assert not Event.objects.exists()


def test_an_indexed_column_keeps_the_first_255_characters_and_the_payload_keeps_all(api):
    api.post("/v1/track", json={"userId": "u" * 300, "event": "e" * 300})

    event = Event.objects.get()
    assert (len(event.user_id), len(event.name)) == (255, 255)
    assert event.payload["userId"] == "u" * 300


def test_get_is_not_allowed_and_answers_a_json_error(api):
    response = api.get("/v1/track")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response.json()["message"]


def test_the_openapi_schema_describes_every_tracking_endpoint(anonymous_api):
    schema = anonymous_api.get("/api/schema/", headers={"Accept": "application/json"}).json()

    expected = {f"/v1/{path}" for path, _, _ in SINGLE_ENDPOINTS} | {
        "/v1/batch",
        "/v1/import",
        "/v1/b",
    }
    assert expected <= set(schema["paths"])
    track = schema["paths"]["/v1/track"]["post"]
    assert "event" in track["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"200", "400", "401", "503"} <= set(track["responses"])
    batch_body = schema["paths"]["/v1/batch"]["post"]["requestBody"]["content"]
    assert batch_body["application/json"]["schema"]["required"] == ["batch"]
