"""The private-address guard (SPEC §7), on when ALLOW_PRIVATE_DESTINATIONS is off."""

import socket

import pytest
from django.core.exceptions import ValidationError

from destinations.addresses import PrivateAddress, pinned_target
from destinations.delivery.transport import classify, send
from destinations.integrations.base import Outcome, Request
from destinations.models import Destination, Mapping
from destinations.services import create_destination


def post(url: str) -> Request:
    return Request("POST", url, {"Content-Type": "application/json"}, b"[]", (0,))


@pytest.fixture
def guard_on(settings):
    settings.ALLOW_PRIVATE_DESTINATIONS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://localhost:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://0.0.0.0:{port}/hook",
    ],
)
def test_a_private_or_loopback_target_is_refused_for_good_without_a_request(
    guard_on, httpserver, url
):
    result = classify(send(post(url.format(port=httpserver.port))))

    assert (result.outcome, result.code) == (Outcome.FAILED, "PRIVATE_ADDRESS")
    assert "ALLOW_PRIVATE_DESTINATIONS" in result.message
    assert not httpserver.log


def test_with_private_destinations_allowed_a_local_target_is_reached(httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")

    result = classify(send(post(httpserver.url_for("/hook"))))

    assert result.outcome is Outcome.DELIVERED


def test_a_public_host_is_pinned_to_the_address_it_resolved_to(monkeypatch):
    answers = [[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers.pop())

    target = pinned_target(post("https://hooks.example.com:8443/in?x=1"))

    assert target.url == "https://93.184.215.14:8443/in?x=1"
    assert target.headers["Host"] == "hooks.example.com:8443"
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


def test_a_host_with_any_private_address_among_its_answers_is_refused(monkeypatch):
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 80)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)

    with pytest.raises(PrivateAddress, match=r"10\.0\.0\.5"):
        pinned_target(post("http://rebind.example.com/"))


def test_an_unknown_host_is_retried_as_enotfound(guard_on):
    result = classify(send(post("http://no-such-host.invalid/hook")))

    assert (result.outcome, result.code) == (Outcome.RETRY, "ENOTFOUND")


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:9000", "https://localhost/v1", "http://10.0.0.8", "http://[::1]:8080"],
)
def test_a_destination_with_a_private_url_cannot_be_saved_when_the_guard_is_on(
    guard_on, db, base_url
):
    with pytest.raises(ValidationError, match="is not a public address"):
        create_destination("metronome", "Billing", {"base_url": base_url}, {"api_token": "t"})

    assert not Destination.objects.exists()


def test_a_destination_named_by_a_public_host_is_saved_and_judged_at_send_time(guard_on, db):
    destination = create_destination(
        "metronome", "Billing", {"base_url": "https://metronome.example.com"}, {"api_token": "t"}
    )

    assert destination.pk


def test_with_private_destinations_allowed_a_local_url_is_saved(db):
    destination = create_destination(
        "metronome", "Billing", {"base_url": "http://127.0.0.1:9000"}, {"api_token": "t"}
    )

    assert destination.pk


def test_a_webhook_mapping_to_a_private_url_cannot_be_saved_when_the_guard_is_on(guard_on, db):
    destination = create_destination("webhook", "Hooks")
    hook = Mapping(
        destination=destination,
        name="Internal",
        action="send",
        trigger='type = "track"',
        fields={"url": "http://192.168.1.20/hook", "method": "POST", "data": {"@path": "$."}},
    )

    with pytest.raises(ValidationError, match=r"url: 192\.168\.1\.20 is not a public address"):
        hook.full_clean()
