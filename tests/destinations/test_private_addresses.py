"""The private-address guard (docs/security.md, "Private addresses"), on when
ALLOW_PRIVATE_DESTINATIONS is off."""

import ipaddress
import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from destinations.delivery.transport import classify, send
from destinations.integrations.base import Outcome, Request
from destinations.models import Destination, Mapping
from destinations.services.destinations import create_destination
from infra.addresses import PrivateAddress, pinned_target, saved_url_problem


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

    target = pinned_target("https://hooks.example.com:8443/in?x=1", {})

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
        pinned_target("http://rebind.example.com/", {})


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


# Every IPv4 network that is not public: this host, private, shared (CGNAT), loopback,
# link-local (cloud metadata), IETF protocol, documentation, benchmarking, multicast, reserved.
PRIVATE_IPV4_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
private_ipv4s = st.one_of(*(st.ip_addresses(network=network) for network in PRIVATE_IPV4_NETWORKS))


def wrapped(ipv4: ipaddress.IPv4Address, wrapping: str) -> ipaddress.IPv6Address:
    value = int(ipv4)
    return ipaddress.IPv6Address(
        {
            "mapped": (0xFFFF << 32) | value,
            "compatible": value,
            "translated": (0xFFFF << 48) | value,
            "nat64": (0x64FF9B << 96) | value,
            "6to4": (0x2002 << 112) | (value << 80),
        }[wrapping]
    )


@given(
    ipv4=private_ipv4s,
    wrapping=st.sampled_from(["mapped", "compatible", "translated", "nat64", "6to4"]),
)
def test_a_private_ipv4_wrapped_in_ipv6_is_refused_on_save_and_on_send(ipv4, wrapping):
    url = f"http://[{wrapped(ipv4, wrapping)}]:8080/hook"

    with override_settings(ALLOW_PRIVATE_DESTINATIONS=False):
        problem = saved_url_problem(url)
        result = classify(send(post(url)))

    assert problem and "is not a public address" in problem
    assert (result.outcome, result.code) == (Outcome.FAILED, "PRIVATE_ADDRESS")


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::7f00:1", "2002:7f00:1::", "::7f00:1", "::ffff:a9fe:a9fe", "fec0::1", "64:ff9b:1::1"],
)
def test_a_wrapped_private_ipv4_or_a_site_local_address_cannot_be_sent_to(guard_on, address):
    result = classify(send(post(f"http://[{address}]/hook")))

    assert (result.outcome, result.code) == (Outcome.FAILED, "PRIVATE_ADDRESS")


@pytest.mark.parametrize("address", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "2606:4700::1"])
def test_a_public_address_wrapped_or_not_is_pinned_as_it_is(monkeypatch, address):
    answer = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 443, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answer)

    target = pinned_target("https://hooks.example.com/in", {})

    assert target.url == f"https://[{address}]/in"
