"""Real servers for tests that need more than the in-process live server."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

BIN = Path(sys.executable).parent
BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    """The URL of the test database, for processes started by a test."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": "test-secret-key",
        "SECRETS_KEYS": ",".join(settings.SECRETS_KEYS),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SOURCE_CACHE_SECONDS": "0",
        "ALLOW_PRIVATE_DESTINATIONS": "true",
        **overrides,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(**env: str) -> Iterator[str]:
    """Run the production web server on the test database; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [BIN / "gunicorn", "-c", BASE_DIR / "project/gunicorn.conf.py", "project.wsgi"],
        cwd=BASE_DIR,
        env=process_env(HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1", **env),
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def settings_refusal(**environment: str) -> str:
    """What Django says when it starts with these settings (empty when it starts at all)."""
    checked = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "project.settings", **environment},
        capture_output=True,
        text=True,
    )
    return checked.stderr if checked.returncode else ""
