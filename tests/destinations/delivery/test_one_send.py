"""A destination request goes out in one send, its headers with its body
(destinations/delivery/deadline.py, DeadlineStream): httpcore writes them one after the
other, and two sends were two packets and two wake-ups of the destination per request."""

import socket
import threading

from destinations.delivery.transport import send
from destinations.integrations.base import Request

BODY = b'{"event":"Signed Up"}'


def test_a_request_goes_out_in_one_send_its_headers_with_its_body(monkeypatch, httpserver):
    httpserver.expect_request("/hook", method="POST", data=BODY).respond_with_data("ok")
    sends: list[bytes] = []
    original = socket.socket.send
    sender = threading.get_ident()  # the server's threads send too: only ours count

    def recording(self, data, *args):
        if threading.get_ident() == sender:
            sends.append(bytes(data))
        return original(self, data, *args)

    monkeypatch.setattr(socket.socket, "send", recording)
    headers = {"Content-Type": "application/json"}
    exchange = send(Request("POST", httpserver.url_for("/hook"), headers, BODY, (0,)))

    assert exchange.status == 200
    assert len(sends) == 1
    assert sends[0].startswith(b"POST /hook HTTP/1.1\r\n")
    assert sends[0].endswith(b"\r\n\r\n" + BODY)


def test_a_request_without_a_body_goes_out_whole(monkeypatch, httpserver):
    httpserver.expect_request("/ping", method="GET").respond_with_data("pong")

    exchange = send(Request("GET", httpserver.url_for("/ping"), {}, b"", (0,)))

    assert (exchange.status, exchange.response_body) == (200, b"pong")
