import base64

import pytest

from ingest.models import Event
from ingest.sources import rotate_write_key

TRACK = {"userId": "u1", "event": "Signed Up"}


def basic(username: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(username.encode()).decode()}


def test_basic_auth_with_the_key_and_a_colon_is_accepted(anonymous_api, source):
    response = anonymous_api.post("/v1/track", json=TRACK, headers=basic(f"{source.write_key}:"))

    assert response.json() == {"success": True}
    assert Event.objects.get().source == source


def test_basic_auth_with_the_key_and_no_colon_is_accepted(anonymous_api, source):
    response = anonymous_api.post("/v1/track", json=TRACK, headers=basic(source.write_key))

    assert response.json() == {"success": True}


def test_the_write_key_in_the_body_is_accepted_and_not_stored(anonymous_api, source):
    response = anonymous_api.post("/v1/track", json=TRACK | {"writeKey": source.write_key})

    assert response.json() == {"success": True}
    assert "writeKey" not in Event.objects.get().payload


def test_the_write_key_in_a_batch_envelope_is_accepted(anonymous_api, source):
    body = {"writeKey": source.write_key, "batch": [TRACK | {"type": "track"}]}

    assert anonymous_api.post("/v1/batch", json=body).json() == {"success": True}


def test_the_write_key_of_the_first_batch_item_is_accepted(anonymous_api, source):
    body = {"batch": [TRACK | {"type": "track", "writeKey": source.write_key}]}

    assert anonymous_api.post("/v1/batch", json=body).json() == {"success": True}


def test_a_bearer_token_with_a_body_write_key_is_accepted(anonymous_api, source):
    headers = {"Authorization": "Bearer some-oauth-token"}
    body = TRACK | {"writeKey": source.write_key}

    assert anonymous_api.post("/v1/track", json=body, headers=headers).json() == {"success": True}


def test_basic_auth_wins_over_the_body_write_key(anonymous_api, source):
    body = TRACK | {"writeKey": "not-a-key"}

    response = anonymous_api.post("/v1/track", json=body, headers=basic(f"{source.write_key}:"))

    assert response.json() == {"success": True}


@pytest.mark.parametrize(
    "headers",
    [basic("wrong-key:"), basic("wrong-key"), {"Authorization": "Basic !!notbase64"}, {}],
    ids=["unknown-with-colon", "unknown-without-colon", "garbled", "none"],
)
def test_an_unknown_or_missing_key_is_refused_with_unknown_source(anonymous_api, source, headers):
    response = anonymous_api.post("/v1/track", json=TRACK, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "unknown_source"
    assert response.json()["message"]
    assert not Event.objects.exists()


def test_a_disabled_source_is_refused_with_source_disabled(anonymous_api, source):
    source.enabled = False
    source.save()

    response = anonymous_api.post("/v1/track", json=TRACK, headers=basic(f"{source.write_key}:"))

    assert response.status_code == 401
    assert response.json()["code"] == "source_disabled"
    assert not Event.objects.exists()


def test_a_rotated_key_stops_working_at_once(anonymous_api, source):
    old_key = source.write_key
    assert anonymous_api.post("/v1/track", json=TRACK, headers=basic(old_key)).status_code == 200

    new_key = rotate_write_key(source)

    assert anonymous_api.post("/v1/track", json=TRACK, headers=basic(old_key)).status_code == 401
    assert anonymous_api.post("/v1/track", json=TRACK, headers=basic(new_key)).status_code == 200
