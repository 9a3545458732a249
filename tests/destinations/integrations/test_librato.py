import base64

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import prepare
from destinations.integrations import librato
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

EMAIL = "ops@example.com"
TOKEN = "librato-secret-token"
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()}
# 2026-03-01T12:00:00.000Z, the samples' timestamp.
MEASURE_TIME = 1772366400
PRESETS = {preset.name: preset for preset in librato.KIND.presets}
TRACK = librato.SEND_GAUGE.default_fields()
PAGE = PRESETS["Page views"].fields


def send(httpserver, sample_events, fields):
    return deliver(
        httpserver,
        "librato",
        "send_gauge",
        sample_events,
        settings={"email": EMAIL},
        secrets={"token": TOKEN},
        fields=fields,
    )


def gauge(name: str, value: float, source: str | None = None) -> dict:
    return {"name": name, "value": value, "measure_time": MEASURE_TIME, "source": source or name}


def built_gauge(event: dict, fields: dict = TRACK) -> dict:
    """The one gauge the action would send for this event, built without sending it."""
    config = Config({"email": EMAIL}, Secrets({"token": TOKEN}), "https://unused")
    payload = prepare(librato.SEND_GAUGE, fields, event)
    return orjson.loads(librato.SEND_GAUGE.build(config, [payload])[0].body)["gauges"][0]


def test_the_track_preset_uses_the_action_defaults():
    assert PRESETS["Track events"].fields is None


def test_one_track_event_becomes_one_gauge(httpserver):
    httpserver.expect_request("/v1/metrics").respond_with_data("", status=200)

    received, results = send(httpserver, [events.track(1)], TRACK)

    body = {"gauges": [gauge("API-Call", 3)]}
    assert_json_request(received[0], "POST", "/v1/metrics", body, HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_value_sent_as_a_numeric_string_goes_out_as_a_number(httpserver):
    """Segment coerces "0.734" for a number field (AJV coerceTypes in action-destinations'
    schema validation); Datagran sends its model scores as such strings."""
    httpserver.expect_request("/v1/metrics").respond_with_data("", status=200)

    received, results = send(httpserver, [events.track(1, properties={"value": "0.734"})], TRACK)

    body = {"gauges": [gauge("API-Call", 0.734)]}
    assert_json_request(received[0], "POST", "/v1/metrics", body, HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_300_gauges_goes_in_one_request(httpserver):
    httpserver.expect_request("/v1/metrics").respond_with_data("", status=200)
    samples = [events.track(n, properties={"value": n}) for n in range(1, 301)]

    received, results = send(httpserver, samples, TRACK)

    assert len(received) == 1
    body = {"gauges": [gauge("API-Call", n) for n in range(1, 301)]}
    assert_json_request(received[0], "POST", "/v1/metrics", body, HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)] * 300


def test_a_named_page_is_a_viewed_page_gauge(httpserver):
    httpserver.expect_request("/v1/metrics").respond_with_data("", status=200)

    received, _ = send(httpserver, [events.page(1)], PAGE)

    body = {"gauges": [gauge("Viewed-Pricing-Page", 1)]}
    assert_json_request(received[0], "POST", "/v1/metrics", body, HEADERS)


def test_a_page_with_a_category_is_named_viewed_category_name_page(httpserver):
    """facade's Page#fullName is "category name" when both are set and Page#event wraps it in
    "Viewed ... Page"; integration-librato's page mapper names the gauge with that."""
    httpserver.expect_request("/v1/metrics").respond_with_data("", status=200)

    received, _ = send(httpserver, [events.page(1, category="Docs")], PAGE)

    body = {"gauges": [gauge("Viewed-Docs-Pricing-Page", 1)]}
    assert_json_request(received[0], "POST", "/v1/metrics", body, HEADERS)


@pytest.mark.parametrize("category", ["", None])
def test_a_page_with_an_empty_or_null_category_is_named_by_its_name_alone(category):
    """facade joins category and name only when both are truthy (JavaScript `&&`)."""
    assert built_gauge(events.page(category=category), PAGE)["name"] == "Viewed-Pricing-Page"


def test_a_page_with_an_empty_name_is_a_loaded_a_page_gauge_even_with_a_category():
    """facade: `name && category ? ... : name`, then Page#event("") is "Loaded a Page"."""
    page = events.page(name="", category="Docs")

    assert built_gauge(page, PAGE)["name"] == "Loaded-a-Page"


def test_a_page_without_a_name_is_a_loaded_a_page_gauge():
    page = events.page()
    del page["name"]

    assert built_gauge(page, PAGE)["name"] == "Loaded-a-Page"


def test_a_page_value_comes_from_its_properties_like_a_track_value():
    assert built_gauge(events.page(properties={"value": 9}), PAGE)["value"] == 9


def test_every_character_outside_the_allowed_ones_becomes_a_dash():
    event = events.track(event="Order Completed: 5€ (v2.1)_ok-go")

    assert built_gauge(event)["name"] == "Order-Completed--5---v2.1-_ok-go"


def test_a_name_is_cut_to_255_characters_after_cleaning():
    assert built_gauge(events.track(event="a b" * 100))["name"] == ("a-b" * 85)


@pytest.mark.parametrize(
    ("properties", "value"),
    [({"value": 0}, 0), ({"value": 2.5}, 2.5), ({"value": None}, 1), ({}, 1)],
)
def test_the_value_is_kept_even_at_zero_and_is_1_when_missing_or_null(properties, value):
    assert built_gauge(events.track(properties=properties))["value"] == value


@pytest.mark.parametrize(
    ("overrides", "source"),
    [
        (
            {
                "integrations": {"Librato": {"source": "from-integrations"}},
                "context": {"Librato": {"source": "from-context-librato"}, "source": "ctx"},
            },
            "from-integrations",
        ),
        (
            {"context": {"Librato": {"source": "from-context-librato"}, "source": "ctx"}},
            "from-context-librato",
        ),
        ({"integrations": {"Librato": True}, "context": {"source": "ctx"}}, "ctx"),
        ({"context": {"source": ""}}, "API-Call"),
        ({"context": {}}, "API-Call"),
    ],
)
def test_the_source_is_the_first_one_set_else_the_metric_name(overrides, source):
    assert built_gauge(events.track(**overrides))["source"] == source


def test_a_source_outside_librato_characters_goes_out_with_dashes_in_their_place(httpserver):
    """Librato's source-based API (api-docs-archive.librato.com, "Sources") takes only
    A-Z a-z 0-9 . : - _ and at most 255 characters; integration-librato's clean() puts "-"
    for every other character."""
    httpserver.expect_request("/v1/metrics").respond_with_data("", status=200)
    sample = events.track(context={"source": "web 01/eu:west_2.b€"})

    received, _ = send(httpserver, [sample], TRACK)

    body = {"gauges": [gauge("API-Call", 3, "web-01-eu:west_2.b-")]}
    assert_json_request(received[0], "POST", "/v1/metrics", body, HEADERS)


def test_a_source_is_cut_to_255_characters_after_cleaning():
    """Librato's 255-character limit on source names (api-docs-archive.librato.com)."""
    sample = events.track(context={"source": "a b" * 100})

    assert built_gauge(sample)["source"] == "a-b" * 85


def test_a_403_saying_the_api_limit_was_hit_is_retried_as_too_many_requests():
    """Librato answers a hit rate limit with 403 and "You have hit the API limit for ..."
    (kb.librato.com/faq/errors/rate_limiting): waiting helps, new credentials do not."""
    body = (
        b'{"errors":{"request":["You have hit the API limit for measurements [measure:raw_rate]"]}}'
    )

    result = librato.SEND_GAUGE.read_error(Answer(403, {}, body))

    assert result == ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", f"HTTP 403: {body.decode()}")


@pytest.mark.parametrize(
    ("status", "body"),
    [(403, b'{"errors":{"request":["Forbidden"]}}'), (401, b"API limit"), (400, b"")],
)
def test_any_other_error_answer_is_left_to_the_generic_rules(status, body):
    assert librato.SEND_GAUGE.read_error(Answer(status, {}, body)) is None


def test_a_plain_403_still_fails_as_invalid_authentication(httpserver):
    httpserver.expect_request("/v1/metrics").respond_with_data("Forbidden", status=403)

    _, results = send(httpserver, [events.track(1)], TRACK)

    assert [(r.outcome, r.code) for r in results] == [(Outcome.FAILED, "INVALID_AUTHENTICATION")]


def test_a_rate_limited_batch_is_retried_end_to_end(httpserver):
    body = "You have hit the API limit for measurements [measure:raw_rate]"
    httpserver.expect_request("/v1/metrics").respond_with_data(body, status=403)

    _, results = send(httpserver, [events.track(1)], TRACK)

    assert [(r.outcome, r.code) for r in results] == [(Outcome.RETRY, "TOO_MANY_REQUESTS")]


def test_the_measure_time_is_in_whole_unix_seconds():
    event = events.track(timestamp="2026-03-01T12:00:00.999Z")

    assert built_gauge(event)["measure_time"] == MEASURE_TIME


@pytest.mark.parametrize(
    ("preset", "event", "wanted"),
    [
        ("Track events", events.track(), True),
        ("Track events", events.page(), False),
        ("Track events", events.identify(), False),
        ("Page views", events.page(), True),
        ("Page views", events.track(), False),
        ("Page views", events.identify(), False),
    ],
)
def test_each_preset_takes_its_own_event_type_only(preset, event, wanted):
    assert triggers.matches(PRESETS[preset].trigger, event) is wanted


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False)])
def test_the_connection_test_lists_one_metric_with_the_credentials(httpserver, db, status, valid):
    from destinations.services.destinations import check_connection, create_destination

    httpserver.expect_request(
        "/v1/metrics", method="GET", query_string="length=1"
    ).respond_with_data("{}", status=status)
    settings = {"email": EMAIL, "base_url": httpserver.url_for("/")}
    destination = create_destination("librato", "Metrics", settings, {"token": TOKEN})

    check = check_connection(destination)

    assert check.ok is valid
    assert httpserver.log[0][0].headers["Authorization"] == HEADERS["Authorization"]
