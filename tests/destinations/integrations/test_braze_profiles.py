"""Braze: identify calls as Track users' user attributes objects, standard attributes
by Braze's names and custom ones beside them
(https://www.braze.com/docs/api/endpoints/user_data/post_user_track/, user attributes
object), as Segment's Braze destination maps them (utils.ts, updateBatchedUserProfile).
"""

import orjson
import pytest

from destinations.integrations import braze
from tests.destinations import events
from tests.destinations.integrations.braze_harness import (
    DELIVERED,
    HEADERS,
    PATH,
    built,
    send,
)
from tests.destinations.integrations.contract import assert_json_request


def test_a_user_profile_becomes_one_attributes_object(httpserver):
    """Standard attributes by Braze's names, custom ones beside them (Track users, user
    attributes object); Segment's firstName, lastName and avatar traits are not sent again as
    custom attributes (Segment's utils.ts, updateBatchedUserProfile)."""
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)
    traits = {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "avatar": "https://example.com/ada.png",
        "gender": "Female",
        "plan": "pro",
        "address": {"city": "London"},
    }
    location = {"country": "GB", "latitude": 51.5, "longitude": -0.12}
    sample = events.identify(1, traits=traits, context={**events.CONTEXT, "location": location})

    received, results = send(httpserver, "update_user_profile", [sample])

    attributes = {
        "plan": "pro",
        "address": {"city": "London"},
        "external_id": "user-1",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "gender": "F",
        "country": "GB",
        "home_city": "London",
        "image_url": "https://example.com/ada.png",
        "current_location": {"latitude": 51.5, "longitude": -0.12},
        "_update_existing_only": False,
    }
    assert_json_request(received[0], "POST", PATH, {"attributes": [attributes]}, HEADERS)
    assert results == [DELIVERED]


@pytest.mark.parametrize(
    ("gender", "code"),
    [("male", "M"), ("Woman", "F"), ("other", "O"), ("not applicable", "N"), ("P", "P")],
)
def test_gender_words_become_brazes_codes(gender, code):
    sample = events.identify(traits={"gender": gender})

    body = orjson.loads(built(braze.UPDATE_USER_PROFILE, sample)[0].body)

    assert body["attributes"][0]["gender"] == code


def test_a_date_of_birth_is_sent_as_a_date():
    """dob: "YYYY-MM-DD" (user attributes object)."""
    fields = braze.UPDATE_USER_PROFILE.default_fields() | {"dob": {"@path": "$.traits.birthday"}}
    sample = events.identify(traits={"birthday": "1815-12-10T00:00:00Z"})

    body = orjson.loads(built(braze.UPDATE_USER_PROFILE, sample, fields)[0].body)

    assert body["attributes"][0]["dob"] == "1815-12-10"
