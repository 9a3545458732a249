"""Response classification (docs/delivery.md, "Classifying answers"), through the real client
against a local server."""

import time

import pytest

import project
from destinations.delivery.transport import classify, send
from destinations.integrations.base import ItemResult, Outcome, Request
from tests.servers import free_port


def request_to(url: str) -> Request:
    return Request("POST", url, {"Content-Type": "application/json"}, b"[]", (0,))


def answer(httpserver, status: int, body: str = "", **headers: str) -> ItemResult:
    httpserver.expect_request("/sink").respond_with_data(body, status=status, headers=headers)
    return classify(send(request_to(httpserver.url_for("/sink"))))


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_a_2xx_answer_is_delivered(httpserver, status):
    assert answer(httpserver, status) == ItemResult(Outcome.DELIVERED)


def test_a_2xx_answer_with_invalid_json_is_still_delivered(httpserver):
    assert answer(httpserver, 200, "<html>not json") == ItemResult(Outcome.DELIVERED)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (408, "REQUEST_TIMEOUT"),
        (423, "LOCKED"),
        (429, "TOO_MANY_REQUESTS"),
        (500, "INTERNAL_SERVER_ERROR"),
        (502, "BAD_GATEWAY"),
        (503, "SERVICE_UNAVAILABLE"),
        (504, "GATEWAY_TIMEOUT"),
    ],
)
def test_a_transient_answer_is_retried_with_its_code(httpserver, status, code):
    result = answer(httpserver, status, "try later")

    assert (result.outcome, result.code) == (Outcome.RETRY, code)
    assert result.message == f"HTTP {status}: try later"


@pytest.mark.parametrize("status", [401, 403])
def test_an_authentication_refusal_fails_for_good(httpserver, status):
    result = answer(httpserver, status, '{"error": "bad token"}')

    assert (result.outcome, result.code) == (Outcome.FAILED, "INVALID_AUTHENTICATION")
    assert '{"error": "bad token"}' in result.message


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_REQUEST"),
        (404, "NOT_FOUND"),
        (422, "UNPROCESSABLE_ENTITY"),
        (501, "NOT_IMPLEMENTED"),
    ],
)
def test_other_client_errors_and_501_fail_for_good(httpserver, status, code):
    result = answer(httpserver, status, "no")

    assert (result.outcome, result.code, result.message) == (
        Outcome.FAILED,
        code,
        f"HTTP {status}: no",
    )


def test_429_with_retry_after_seconds_says_how_long_to_wait(httpserver):
    result = answer(httpserver, 429, **{"Retry-After": "2"})

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 2.0)


def test_503_with_a_retry_after_date_says_how_long_to_wait(httpserver):
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))

    result = answer(httpserver, 503, **{"Retry-After": later})

    assert result.outcome is Outcome.RETRY
    assert 25 <= result.retry_after <= 31


def test_a_redirect_is_not_followed_and_fails(httpserver):
    result = answer(httpserver, 302, **{"Location": "http://10.0.0.1/"})

    assert (result.outcome, result.code) == (Outcome.FAILED, "UNEXPECTED_REDIRECT")


def test_a_read_timeout_is_retried_as_etimedout(httpserver, settings):
    settings.DESTINATION_READ_TIMEOUT = 0.2
    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(1))

    result = classify(send(request_to(httpserver.url_for("/slow"))))

    assert (result.outcome, result.code) == (Outcome.RETRY, "ETIMEDOUT")


def test_a_refused_connection_is_retried_as_econnrefused():
    exchange = send(request_to(f"http://127.0.0.1:{free_port()}/"))

    assert exchange.status is None
    result = classify(exchange)
    assert (result.outcome, result.code) == (Outcome.RETRY, "ECONNREFUSED")
    assert result.message


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/sink", {"X-Note": "line\r\nInjected: yes"}),
        ("/sink", {"X-Note": "caf\u00e9 \u2615"}),
        ("ftp://127.0.0.1/file", {}),
    ],
    ids=["header-with-newline", "non-ascii-header", "unsupported-scheme"],
)
def test_a_request_that_cannot_be_sent_fails_for_good_without_sending(httpserver, path, headers):
    url = path if "://" in path else httpserver.url_for(path)

    result = classify(send(Request("POST", url, headers, b"{}", (0,))))

    assert (result.outcome, result.code) == (Outcome.FAILED, "INVALID_REQUEST")
    assert not httpserver.log


def test_a_request_carries_the_switchyard_user_agent(httpserver):
    answer(httpserver, 200)

    assert httpserver.log[0][0].headers["User-Agent"] == f"Switchyard/{project.__version__}"
