"""The destination of the end-to-end benchmark: a local HTTP server that takes Metronome's
ingest requests (a JSON array per request) and answers 200 at once.

    python -m bench.sink PORT [CUSTOMER]

With CUSTOMER, a request carrying an item of that customer_id is answered 503, whole: one
customer's events failing continuously (bench/ordering.py).

GET /stats answers {"requests": n, "items": n}: what arrived, to check against the database.
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.items = 0

    def add(self, items: int) -> None:
        with self.lock:
            self.requests += 1
            self.items += items


TALLY = Tally()
REFUSED = sys.argv[2] if len(sys.argv) > 2 else None


def refused(item: object) -> bool:
    return isinstance(item, dict) and item.get("customer_id") == REFUSED


class SinkHandler(BaseHTTPRequestHandler):
    # Keep-alive, as a real API: the dispatcher's pooled client reuses its connection.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each answer would wait for
    # the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError:
            self.answer(400, b'{"error":"invalid json"}')
            return
        if REFUSED and isinstance(items, list) and any(refused(item) for item in items):
            self.answer(503, b'{"error":"refused"}')
            return
        TALLY.add(len(items) if isinstance(items, list) else 1)
        self.answer(200, b"{}")

    def do_GET(self) -> None:
        with TALLY.lock:
            stats = {"requests": TALLY.requests, "items": TALLY.items}
        self.answer(200, orjson.dumps(stats))

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), SinkHandler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
