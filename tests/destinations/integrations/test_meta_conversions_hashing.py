"""Meta Conversions API: customer information normalized and hashed as Meta's customer
information parameters page and its Business SDK's normalize.py do
(developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters;
facebook_business/adobjects/serverside/normalize.py), and as Segment's
facebook-conversions-api shared/functions.ts hashes the external id.
"""

import pytest

from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.meta_conversions_harness import (
    USER_AGENT,
    sha256,
    user_data_of,
)


@pytest.mark.parametrize(
    ("traits", "key", "hashed_text"),
    [
        ({"email": "\tAda@Example.COM "}, "em", "ada@example.com"),
        ({"phone": "+1 (650) 555-1212"}, "ph", "16505551212"),
        ({"phone": "0044 844 412 4653"}, "ph", "448444124653"),
        ({"firstName": " Ada "}, "fn", "ada"),
        ({"lastName": "LOVELACE"}, "ln", "lovelace"),
        ({"gender": "Female"}, "ge", "f"),
        ({"gender": "m"}, "ge", "m"),
        ({"birthday": "1815-12-10"}, "db", "18151210"),
        ({"birthday": "1815-12-10T00:00:00.000Z"}, "db", "18151210"),
        ({"address": {"city": "St. Louis"}}, "ct", "stlouis"),
        ({"address": {"state": "N.Y."}}, "st", "ny"),
        ({"address": {"postalCode": "SW1A 1AA"}}, "zp", "sw1a1aa"),
        ({"address": {"country": "GB "}}, "country", "gb"),
    ],
)
def test_customer_information_is_normalized_before_hashing(traits, key, hashed_text):
    """Customer information parameters: em trimmed and lower-cased; ph digits only with the
    country code and no leading zeros; fn, ln lower-case; ge f or m; db YYYYMMDD; ct and st
    without spaces or punctuation (Meta's SDK drops digits, spaces, dots, dashes and
    brackets); zp without spaces, a ZIP+4 cut at the dash; country the 2-letter code."""
    user_data = user_data_of(events.page(1, context={**CONTEXT, "traits": traits}))

    assert user_data[key] == sha256(hashed_text)


def test_the_external_id_is_hashed_as_segment_hashes_it():
    """Meta recommends hashing external_id; Segment hashes it trimmed and lower-cased, so
    matching carries over from a Segment setup."""
    assert user_data_of(events.page(1, anonymousId=" Anon-1 "))["external_id"] == sha256("anon-1")


def test_a_value_that_already_is_a_sha256_digest_is_not_hashed_again():
    digest = sha256("person@example.com")
    traits = {"email": digest.upper(), "phone": digest}

    user_data = user_data_of(events.page(1, context={**CONTEXT, "traits": traits}))

    assert (user_data["em"], user_data["ph"]) == (digest, digest)


def test_values_that_normalize_to_nothing_are_left_out():
    traits = {"gender": "unknown", "phone": "n/a", "email": "  "}

    user_data = user_data_of(events.page(1, context={**CONTEXT, "traits": traits}))

    assert set(user_data) == {"external_id", "client_ip_address"}


def test_the_browser_identifiers_go_unhashed():
    """client_ip_address, client_user_agent, fbc and fbp: "Do not hash"."""
    page = events.page(
        1,
        context={**CONTEXT, "userAgent": USER_AGENT},
        properties={"fbc": "fb.1.1554763741205.AbCd", "fbp": "fb.1.1558571054389.1098115397"},
    )

    user_data = user_data_of(page)

    assert user_data["client_user_agent"] == USER_AGENT
    assert (user_data["fbc"], user_data["fbp"]) == (
        "fb.1.1554763741205.AbCd",
        "fb.1.1558571054389.1098115397",
    )
