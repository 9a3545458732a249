"""gunicorn settings shared by `make run`, the tests, the benchmarks and production."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# The default control socket is one path per user: two servers on a machine would collide.
control_socket_disable = True
