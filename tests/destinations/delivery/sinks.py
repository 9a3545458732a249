"""Local HTTP sinks for delivery tests: they record every request and answer as told."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

# (status, headers, body) for a request; the default answers 200 with an empty JSON object.
Responder = Callable[["Received"], tuple[int, dict[str, str], bytes]]


@dataclass
class Received:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # set once the sink has answered

    def json(self):
        return orjson.loads(self.body)


@dataclass
class Sink:
    """A threading HTTP server on a free local port; `answer` may be swapped at any time."""

    answer: Responder = field(default=lambda request: (200, {}, b"{}"))
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    time.time(), "POST", self.path, dict(self.headers), self.rfile.read(length)
                )
                sink.received.append(request)  # on arrival: a test may kill the sender now
                status, headers, body = sink.answer(request)
                request.status = status
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per sink per test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def items(self) -> list:
        """Every JSON item of the requests answered 2xx (the sink's requests carry arrays)."""
        accepted = [r for r in self.received if r.status is not None and 200 <= r.status < 300]
        return [item for request in accepted for item in request.json()]


def always(status: int, **headers: str) -> Responder:
    return lambda request: (status, headers, b"{}")
