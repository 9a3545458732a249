"""An overall deadline for a destination request: connecting, sending and reading the whole
answer end by it, however the destination spaces its bytes.

httpx's timeouts bound each network operation, not the request: a destination answering a
byte a second never trips a 10 s read timeout and holds its worker past the batch's lease.
So the client's connections go through `DeadlineBackend`, whose every operation waits at most
until the deadline of the request being sent (set by `within`, read from a context variable,
as one pooled connection serves request after request). Past it, the operation raises
httpcore's timeout, which httpx turns into its own, and the connection is closed.

Cutting each operation's timeout to the time left is enough for connecting and reading: a
socket read returns what came, and Python's ssl bounds a TLS handshake or read (which may
wait for several pieces of a record) by the socket's timeout as a whole.
"""

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from ssl import SSLContext
from typing import Any

import httpcore

# A write up to this size (a request's headers) waits to go out with the next one.
HELD_BYTES = 16 * 1024

_ends_at: ContextVar[float | None] = ContextVar("destination_request_ends_at", default=None)


@contextmanager
def within(ends_at: float) -> Iterator[None]:
    """Network operations in this block end by `ends_at` (on time.monotonic's clock)."""
    token = _ends_at.set(ends_at)
    try:
        yield
    finally:
        _ends_at.reset(token)


def time_left(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """The operation's own timeout, cut to the time left before the deadline."""
    ends_at = _ends_at.get()
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise expired("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose operations end by the request's deadline, and which sends a
    request's headers together with its body: httpcore writes them one after the other, and
    two sends were two packets and two wake-ups of the destination per request."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream
        self.held = b""  # a short write waiting to go out with the next one

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.held:
            # As httpcore does: a destination may answer, then close before taking it all.
            with suppress(httpcore.WriteError):
                self.send(self.held, timeout)
        return self.stream.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not self.held and len(buffer) <= HELD_BYTES:
            self.held = bytes(buffer)
            return
        self.send(self.held + buffer, timeout)

    def send(self, buffer: bytes, timeout: float | None) -> None:
        self.held = b""
        # On the socket itself: httpcore's write sends the rest again and again with the same
        # timeout, so a destination taking a few bytes at a time would never trip it.
        sock = self.stream.get_extra_info("socket")
        unsent = memoryview(buffer)
        try:
            while unsent:
                sock.settimeout(time_left(timeout, httpcore.WriteTimeout))
                unsent = unsent[sock.send(unsent) :]
        except TimeoutError as error:
            raise httpcore.WriteTimeout(str(error)) from error
        except OSError as error:
            raise httpcore.WriteError(str(error)) from error

    def close(self) -> None:
        self.held = b""
        self.stream.close()

    def start_tls(
        self,
        ssl_context: SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = time_left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self.backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = time_left(timeout, httpcore.ConnectTimeout)
        stream = self.backend.connect_tcp(host, port, left, local_address, socket_options)
        return DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)
