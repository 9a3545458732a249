"""Per-source rate limit (docs/tracking-api.md, "Rate limit"): events a second, 429 with Retry-After
and X-RateLimit-Reset, a request admitted or refused whole."""

import pytest

from ingest import rate_limit
from ingest.models import Event, Rejection
from ingest.selectors import source_activity

TRACK = {"userId": "u1", "event": "Signed Up"}


def batch(size: int) -> dict:
    return {"batch": [TRACK | {"type": "track"}] * size}


@pytest.fixture
def clock(monkeypatch):
    """A quarter into a second, held still: every request below lands in one window."""
    now = [1_800_000_000.25]
    monkeypatch.setattr(rate_limit, "clock", lambda: now[0])
    return now


@pytest.fixture
def limited(source, clock):
    source.rate_limit = 5
    source.save()
    return source


def test_requests_within_the_limit_are_accepted(api, limited):
    for _ in range(5):
        assert api.post("/v1/track", json=TRACK).json() == {"success": True}

    assert Event.objects.count() == 5


def test_over_the_limit_the_api_answers_429_with_both_headers(api, limited):
    for _ in range(5):
        api.post("/v1/track", json=TRACK)

    response = api.post("/v1/track", json=TRACK)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "1"
    assert response.headers["X-RateLimit-Reset"] == "1"
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert Event.objects.count() == 5
    assert Rejection.objects.get(source=limited, code="rate_limited").count == 1


def test_a_batch_is_admitted_whole_while_the_window_has_room(api, limited):
    assert api.post("/v1/batch", json=batch(3)).status_code == 200
    assert api.post("/v1/batch", json=batch(3)).status_code == 200
    assert api.post("/v1/batch", json=batch(1)).status_code == 429

    assert Event.objects.count() == 6


def test_a_refused_request_counts_its_events_as_rate_limited_rejections(api, limited):
    api.post("/v1/batch", json=batch(5))
    assert api.post("/v1/batch", json=batch(3)).status_code == 429
    assert api.post("/v1/track", json=TRACK).status_code == 429

    rejection = Rejection.objects.get(source=limited)
    assert (rejection.code, rejection.count) == ("rate_limited", 4)
    assert "over the limit of 5 a second" in rejection.example
    # The source's page lists it as a reason of its own, beside validation's.
    activity = source_activity(limited)
    assert (activity.received, activity.rejected) == (5, 4)
    assert [(r.code, r.count) for r in activity.rejections] == [("rate_limited", 4)]


def test_the_next_second_admits_again(api, limited, clock):
    api.post("/v1/batch", json=batch(5))
    assert api.post("/v1/track", json=TRACK).status_code == 429

    clock[0] += 1

    assert api.post("/v1/track", json=TRACK).status_code == 200


def test_the_setting_limits_sources_without_their_own_limit(api, source, clock, settings):
    settings.SOURCE_RATE_LIMIT = 2
    api.post("/v1/batch", json=batch(2))

    assert api.post("/v1/track", json=TRACK).status_code == 429


def test_a_source_limit_of_zero_lifts_the_setting(api, source, clock, settings):
    settings.SOURCE_RATE_LIMIT = 2
    source.rate_limit = 0
    source.save()

    for _ in range(3):
        assert api.post("/v1/batch", json=batch(2)).status_code == 200


def test_limits_are_per_source(api, limited, live_server, clock):
    other = type(limited).objects.create(name="Other app", rate_limit=5)
    api.post("/v1/batch", json=batch(5))

    response = api.post("/v1/track", json=TRACK | {"writeKey": other.write_key}, auth=None)

    assert response.status_code == 200


def test_when_redis_does_not_answer_requests_are_admitted(api, limited, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    for _ in range(7):
        assert api.post("/v1/track", json=TRACK).status_code == 200
