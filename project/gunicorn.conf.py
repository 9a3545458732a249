"""gunicorn settings shared by `make run`, the tests, the benchmarks and production.

Threaded workers (gthread): a Tracking API request spends much of its time waiting for
PostgreSQL and Redis, which threads overlap, and concurrent /v1/track requests of a process
then share one INSERT and commit (ingest/storage.py). Threads also keep HTTP keep-alive
connections open between requests, as SDKs expect; the sync worker closes every one, which
cost the bench's ceiling half its throughput. One process per core: the GIL lets a process
use one core at most. Sixteen threads a process: a request waiting for a commit holds its
thread, and the more requests a process has in flight the more of them share each commit
(8 threads: about 4 to a commit; 16: about 8, and a third less PostgreSQL work per event).
Settings and measurements: docs/operations.md ("Web") and docs/performance.md.
"""

import os
import socket

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
# Longer than load balancers' usual idle timeout (60 s), so that the balancer, not gunicorn,
# closes an idle connection: no request is ever sent on a connection being closed.
keepalive = 75
# The default control socket is one path per user: two servers on a machine would collide.
control_socket_disable = True
# Each process listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them evenly. On one shared socket, whichever process woke first took most of
# a burst of new connections (make bench's 64 split 64/0 and 84/20 between two processes)
# and, with keep-alive, kept them: one process saturated while the other idled. A load
# balancer's few long-lived upstream connections are such a burst.
reuse_port = True


def on_starting(server) -> None:
    """Refuse a port that another server listens on: with SO_REUSEPORT the bind would succeed
    and the two servers would silently share the traffic."""
    host, _, port = bind.rpartition(":")
    family, _, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), int(port), type=socket.SOCK_STREAM
    )[0]
    with socket.socket(family, socket.SOCK_STREAM, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise SystemExit(f"cannot listen on {bind}: {error.strerror}") from error


def when_ready(server) -> None:
    # With reuse_port the arbiter binds nothing, and its own "Listening at:" line is empty.
    server.log.info("Listening at: http://%s (%s)", bind, os.getpid())
