"""The overall deadline of a destination request (destinations/delivery/transport.py): connect,
send and the whole answer end within DESTINATION_REQUEST_DEADLINE_SECONDS, however slowly the
destination takes its bytes or gives its own, so that no request outlives its batch's lease.

The destinations here are real local servers that misbehave on purpose; a test asserts on the
outcome and bounds the time taken loosely (twice the deadline), never tightly."""

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.utils import timezone

from destinations.delivery.dispatch import dispatch_mapping
from destinations.delivery.transport import classify, send
from destinations.integrations.base import Outcome, Request
from destinations.models import Delivery, DeliveryAttempt
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import configure, make_due, mapping_of, pending
from tests.servers import settings_refusal

DEADLINE = 1.0
DRIP_SECONDS = 0.25  # well under the read timeout: no single read ever times out


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture(autouse=True)
def patient_timeouts(settings):
    """Connect, read and write timeouts far above the deadline: only the deadline can stop
    what these destinations do."""
    settings.DESTINATION_REQUEST_DEADLINE_SECONDS = DEADLINE
    settings.DESTINATION_CONNECT_TIMEOUT = 10
    settings.DESTINATION_READ_TIMEOUT = 10
    settings.DELIVERY_LEASE_SECONDS = 30


class Dripper:
    """An HTTP server that reads each request whole, sends `head` at once, then `tail` one byte
    every DRIP_SECONDS; `tail` may be swapped for the next requests."""

    def __init__(self, head: bytes, tail: bytes) -> None:
        self.head, self.tail = head, tail
        self.requests = 0
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self.accept_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def accept_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        with connection:
            try:
                read_request(connection)
                self.requests += 1
                connection.sendall(self.head)
                for byte in self.tail:
                    if self.stopped.wait(DRIP_SECONDS):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: what the deadline is for

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def read_request(connection: socket.socket) -> None:
    """Its headers, then as many bytes of body as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data and (piece := connection.recv(65536)):
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    while length and len(body) < int(length[1]) and (piece := connection.recv(65536)):
        body += piece


@pytest.fixture
def dripper() -> Iterator[type[Dripper]]:
    made: list[Dripper] = []

    def make(head: bytes, tail: bytes) -> Dripper:
        made.append(Dripper(head, tail))
        return made[-1]

    yield make
    for server in made:
        server.close()


BODY_DRIP = (b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", b"{}" + b" " * 18)
HEADERS_DRIP = (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 12 + b"\r\nContent-Length: 0\r\n\r\n")


def request_to(url: str, body: bytes = b"[]") -> Request:
    return Request("POST", url, {"Content-Type": "application/json"}, body, (0,))


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    took: list[float] = []
    start = time.monotonic()
    yield took
    took.append(time.monotonic() - start)


@pytest.mark.parametrize("drip", [BODY_DRIP, HEADERS_DRIP], ids=["body", "headers"])
def test_a_destination_dripping_its_answer_is_cut_off_at_the_deadline_and_retried(dripper, drip):
    server = dripper(*drip)

    with stopwatch() as took:
        exchange = send(request_to(server.url))

    result = classify(exchange)
    assert (exchange.status, result.outcome, result.code) == (None, Outcome.RETRY, "ETIMEDOUT")
    assert "overall deadline of 1 s" in result.message
    assert took[0] < 2 * DEADLINE
    assert server.requests == 1


def test_connecting_counts_against_the_deadline():
    # A listener that never accepts, its backlog filled: the next connection hangs in SYN.
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"

        with stopwatch() as took:
            result = classify(send(request_to(url)))

    assert (result.outcome, result.code) == (Outcome.RETRY, "ETIMEDOUT")
    assert took[0] < 2 * DEADLINE


@contextmanager
def reader(pause: float | None) -> Iterator[str]:
    """A server that accepts a connection and reads 64 KiB every `pause` seconds (never, if
    None): a large request body fills the socket buffers and each send waits for room."""
    stopped = threading.Event()

    def read_slowly(listener: socket.socket) -> None:
        connection, _ = listener.accept()
        with connection:
            while pause is not None and not stopped.wait(pause) and connection.recv(65536):
                pass
            stopped.wait()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=read_slowly, args=(listener,), daemon=True).start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        stopped.set()


@pytest.mark.parametrize("pause", [None, 0.01], ids=["never-reads", "reads-slowly"])
def test_sending_to_a_destination_that_reads_slowly_counts_against_the_deadline(pause):
    with reader(pause) as url, stopwatch() as took:
        result = classify(send(request_to(url, body=b"x" * (64 * 1024 * 1024))))

    assert (result.outcome, result.code) == (Outcome.RETRY, "ETIMEDOUT")
    assert took[0] < 2 * DEADLINE


def test_a_delivery_cut_off_at_the_deadline_is_sent_once_and_retried_later(dripper, source):
    server = dripper(*BODY_DRIP)
    billing = scenario.metronome(source, server.url)
    mapping = configure(mapping_of(billing), flush_interval=0)
    pending(source, 1)

    dispatch_mapping(mapping.pk)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.error_code) == ("retrying", "ETIMEDOUT")
    assert (delivery.claim, delivery.lease_expires_at) == (None, None)
    assert delivery.next_attempt_at > timezone.now()
    assert server.requests == 1
    assert DeliveryAttempt.objects.get().error_code == "ETIMEDOUT"

    server.head, server.tail = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", b""
    make_due(pk=delivery.pk)
    dispatch_mapping(mapping.pk)

    assert Delivery.objects.get().status == "delivered"
    assert server.requests == 2


def test_a_deadline_not_below_half_the_lease_is_refused_at_startup():
    refusal = settings_refusal(
        DESTINATION_REQUEST_DEADLINE_SECONDS="30", DELIVERY_LEASE_SECONDS="60"
    )

    assert "DESTINATION_REQUEST_DEADLINE_SECONDS must be above 0 and below half" in refusal


def test_a_batch_of_several_requests_sends_none_past_half_its_lease(dripper, source, settings):
    # Each request takes the whole deadline: the second ends past half the 3 s lease.
    settings.DELIVERY_LEASE_SECONDS = 3 * DEADLINE
    server = dripper(*BODY_DRIP)
    hook = scenario.webhook(source, server.url, batch_size=5)
    mapping = mapping_of(hook)
    configure(mapping, flush_interval=0, fields=mapping.fields | {"enable_batching": False})
    pending(source, 5)

    dispatch_mapping(mapping.pk)

    assert 1 <= server.requests <= 2
    codes = list(Delivery.objects.values_list("status", "error_code"))
    assert set(codes) == {("retrying", "ETIMEDOUT"), ("retrying", "NOT_SENT_IN_TIME")}
    assert codes.count(("retrying", "ETIMEDOUT")) == server.requests
