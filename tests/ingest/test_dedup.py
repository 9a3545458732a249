from ingest.models import Event, Source

TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}


def test_a_message_id_repeated_in_one_request_is_stored_once(api):
    batch = [TRACK | {"messageId": "m1"}, TRACK | {"messageId": "m1", "event": "Copy"}]

    assert api.post("/v1/batch", json={"batch": batch}).json() == {"success": True}

    assert list(Event.objects.values_list("message_id", "name")) == [("m1", "Signed Up")]


def test_a_message_id_sent_again_later_is_accepted_and_ignored(api):
    api.post("/v1/track", json=TRACK | {"messageId": "m1"})

    response = api.post(
        "/v1/batch", json={"batch": [TRACK | {"messageId": "m1", "event": "Retry"}]}
    )

    assert response.json() == {"success": True}
    assert list(Event.objects.values_list("message_id", "name")) == [("m1", "Signed Up")]


def test_the_same_message_id_from_two_sources_is_two_events(api, live_server):
    other = Source.objects.create(name="Other app")
    api.post("/v1/track", json=TRACK | {"messageId": "m1"})

    api.post("/v1/track", json=TRACK | {"messageId": "m1"}, auth=(other.write_key, ""))

    assert Event.objects.filter(message_id="m1").count() == 2
