import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.servers import BASE_DIR, BIN, process_env

# Short leases and timeouts so that recovery from a dead worker takes seconds in a test.
WORKER_ENV = {
    "DELIVERY_LEASE_SECONDS": "6",
    "DESTINATION_CONNECT_TIMEOUT": "2",
    "DESTINATION_READ_TIMEOUT": "2",
    "DESTINATION_REQUEST_DEADLINE_SECONDS": "2",
    "DISPATCH_RUN_SECONDS": "5",
    "CELERY_WORKER_CONCURRENCY": "6",
    "LOG_LEVEL": "WARNING",
}


class Worker:
    """A real Celery worker process (prefork) on the test database and this test's Redis."""

    def __init__(self, name: str, tmp_path, beat: bool, **env: str) -> None:
        args = [BIN / "celery", "-A", "project", "worker", "-n", f"{name}@%h", "-l", "warning"]
        if beat:
            args += ["-B", "-s", str(tmp_path / f"beat-{name}")]
        self.log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=process_env(**WORKER_ENV, **env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole worker, parent and children: no chance to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(name: str = "w1", beat: bool = True, **env: str) -> Worker:
        worker = Worker(name, tmp_path, beat, **env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 60, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not true after {timeout} s: {message or condition}")


@contextmanager
def elapsed() -> Iterator[Callable[[], float]]:
    start = time.monotonic()
    yield lambda: time.monotonic() - start
