"""A request pinned to its host's address (the guard's rewrite to the IP, the name in Host and
SNI) never rides a pooled TLS connection whose certificate was checked for another name."""

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from destinations.delivery import transport
from destinations.delivery.transport import classify, send
from destinations.integrations.base import Outcome, Request
from infra import addresses
from tests.certificates import issue

CERTIFIED = "hooks.example.com"
OTHER = "other.example.com"


class KeepAliveTLSServer(ThreadingHTTPServer):
    """Answers 200 to every request and keeps the connection open (werkzeug's test server
    closes each one, which would hide any reuse); `log` holds each request's Host header and
    the client's port, which tells connections apart."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), KeepAliveHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.log: list[tuple[str, int]] = []


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.log.append((self.headers["Host"], self.client_address[1]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path, monkeypatch) -> Iterator[KeepAliveTLSServer]:
    """A keep-alive HTTPS server whose certificate names CERTIFIED only, signed by a test CA
    that the process's client trusts (SSL_CERT_FILE, read when the client is made)."""
    issued = issue(tmp_path, CERTIFIED)
    monkeypatch.setenv("SSL_CERT_FILE", issued.authority)
    monkeypatch.setattr(transport, "_client", None)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.certificate, issued.key)
    server = KeepAliveTLSServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    transport.client().close()
    server.shutdown()
    server.server_close()


@pytest.fixture
def both_names_on_the_server(tls_server, monkeypatch, settings):
    """Both names resolve to the server's address, which the guard takes for a public one:
    no public address can be served here."""
    settings.ALLOW_PRIVATE_DESTINATIONS = False
    answer = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", tls_server.port))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answer)
    loopback = ipaddress.ip_address("127.0.0.1")
    is_public = addresses.is_public
    monkeypatch.setattr(
        addresses, "is_public", lambda address: address == loopback or is_public(address)
    )


def get(host: str, port: int) -> Request:
    return Request("POST", f"https://{host}:{port}/hook", {}, b"[]", (0,))


def test_a_second_name_on_the_same_address_has_its_own_certificate_checked(
    tls_server, both_names_on_the_server
):
    first = classify(send(get(CERTIFIED, tls_server.port)))
    second = send(get(OTHER, tls_server.port))

    assert first.outcome is Outcome.DELIVERED
    assert second.status is None and "CERTIFICATE_VERIFY_FAILED" in second.error_message
    assert [host for host, _ in tls_server.log] == [f"{CERTIFIED}:{tls_server.port}"]


def test_a_name_reuses_its_own_pooled_connection(tls_server, both_names_on_the_server):
    for _ in range(2):
        assert classify(send(get(CERTIFIED, tls_server.port))).outcome is Outcome.DELIVERED

    assert len(tls_server.log) == 2
    assert len({client_port for _, client_port in tls_server.log}) == 1


def test_past_the_limit_of_names_the_least_recently_used_pool_is_dropped(
    tls_server, both_names_on_the_server, monkeypatch
):
    monkeypatch.setattr(transport, "MAX_POOLED_NAMES", 2)
    # Only CERTIFIED is answered; the others fail their handshake, but get a pool all the same.
    names = [CERTIFIED, OTHER, CERTIFIED, "third.example.com", CERTIFIED]
    names += ["fourth.example.com", "fifth.example.com", CERTIFIED]

    for name in names:
        send(get(name, tls_server.port))

    ports = [client_port for _, client_port in tls_server.log]
    assert len(ports) == 4
    assert ports[0] == ports[1] == ports[2] != ports[3]
