import pytest

from ingest.models import Event, Rejection

VALID = {"type": "track", "userId": "u1", "event": "Signed Up"}

INVALID = [
    ("id_required", {"type": "track", "event": "Signed Up"}),
    ("id_required", {"type": "track", "event": "Signed Up", "userId": "", "anonymousId": ""}),
    ("id_required", {"type": "track", "event": "Signed Up", "userId": True}),
    ("id_required", {"type": "alias", "anonymousId": "a1", "previousId": "p1"}),
    ("event_not_defined", {"type": "track", "userId": "u1"}),
    ("event_not_defined", {"type": "track", "userId": "u1", "event": ""}),
    ("event_not_defined", {"type": "track", "userId": "u1", "event": 42}),
    ("properties_not_object", VALID | {"properties": [1, 2]}),
    ("properties_not_object", VALID | {"properties": "a"}),
    ("traits_not_object", {"type": "identify", "userId": "u1", "traits": "vip"}),
    ("context_not_object", VALID | {"context": 3}),
    ("group_id_required", {"type": "group", "userId": "u1"}),
    ("group_id_required", {"type": "group", "userId": "u1", "groupId": ""}),
    ("previous_id_required", {"type": "alias", "userId": "u1"}),
    ("message_id_too_long", VALID | {"messageId": "m" * 101}),
    ("type_unknown", {"type": "purchase", "userId": "u1"}),
    ("type_unknown", {"userId": "u1", "event": "No type"}),
    ("invalid_message", "just a string"),
]


@pytest.mark.parametrize(
    ("code", "item"), INVALID, ids=[f"{c}-{i}" for i, (c, _) in enumerate(INVALID)]
)
def test_an_invalid_message_is_dropped_with_its_reason_and_the_rest_stored(api, source, code, item):
    response = api.post("/v1/batch", json={"batch": [VALID, item, VALID | {"event": "Later"}]})

    assert response.status_code == 200
    assert response.json() == {"success": True, "rejected": [{"index": 1, "code": code}]}
    assert sorted(Event.objects.values_list("name", flat=True)) == ["Later", "Signed Up"]
    rejection = Rejection.objects.get(source=source)
    assert (rejection.code, rejection.count) == (code, 1)
    assert rejection.example


def test_a_rejected_single_call_still_answers_200_with_index_zero(api):
    response = api.post("/v1/track", json={"userId": "u1"})

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "rejected": [{"index": 0, "code": "event_not_defined"}],
    }
    assert not Event.objects.exists()


def test_rejections_add_up_per_source_hour_and_reason(api, source):
    for _ in range(3):
        api.post("/v1/batch", json={"batch": [{"type": "track"}, {"type": "track"}]})

    assert Rejection.objects.get(source=source, code="id_required").count == 6


def test_a_message_id_of_exactly_100_characters_is_accepted(api):
    api.post("/v1/track", json=VALID | {"messageId": "m" * 100})

    assert Event.objects.get().message_id == "m" * 100


@pytest.mark.parametrize(
    ("item", "stored"),
    [
        ({"userId": 42}, {"userId": "42"}),
        ({"anonymousId": 7.0}, {"anonymousId": "7"}),
        ({"userId": 1.5}, {"userId": "1.5"}),
    ],
)
def test_numeric_ids_are_stringified_as_analytics_python_does(api, item, stored):
    api.post("/v1/track", json={"event": "Signed Up"} | item)

    event = Event.objects.get()
    assert {key: event.payload[key] for key in stored} == stored


def test_null_properties_and_traits_are_accepted(api):
    api.post("/v1/identify", json={"userId": "u1", "traits": None, "properties": None})

    assert Event.objects.count() == 1


def test_a_numeric_group_id_is_stringified(api):
    api.post("/v1/group", json={"userId": "u1", "groupId": 1234})

    assert Event.objects.get().payload["groupId"] == "1234"
