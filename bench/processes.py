"""The processes a benchmark run starts, and the promise that every one of them is stopped.

Each child gets a session (process group) of its own, so that a terminal's Ctrl-C reaches the
harness alone and the harness stops the children in order; stopping signals the whole group,
which takes a gunicorn master or a Celery parent down with its workers.
"""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

STOP_SECONDS = 15.0


class Supervisor:
    """Starts named processes with their output in a log file; `stop_all` ends them all."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: Sequence[str | Path], env: dict[str, str]) -> int:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
        with log:
            process = subprocess.Popen(
                [str(part) for part in argv],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.children[name] = process
        return process.pid

    def run(self, name: str, argv: Sequence[str | Path], env: dict[str, str]) -> str:
        """Run a short-lived child to the end; returns its output (stdout and stderr)."""
        self.start(name, argv, env)
        code = self.children[name].wait()
        del self.children[name]
        output = (self.log_dir / f"{name}.log").read_text(errors="replace")
        if code != 0:
            raise RuntimeError(f"{name} exited with {code}:\n{output[-2000:]}")
        return output

    def check_alive(self, name: str) -> None:
        code = self.children[name].poll()
        if code is not None:
            raise RuntimeError(f"{name} exited with {code}; see {self.log_dir / name}.log")

    def stop(self, name: str) -> None:
        process = self.children.pop(name, None)
        if process is None or process.poll() is not None:
            return
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        # Newest first: load generators before servers, servers before what they talk to.
        for name in reversed(list(self.children)):
            self.stop(name)


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM (Ctrl-C, `timeout`, CI) unwind through the `finally` that stops the
    children. SIGINT's handler is set explicitly: a shell starts background jobs with it
    ignored, and Python keeps an ignored SIGINT ignored."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, supervisor: Supervisor, name: str, timeout: float = 60.0) -> None:
    """Wait until `url` answers anything at all (any status, redirects not followed)."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check_alive(name)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1)
        try:
            connection.request("GET", parts.path)
            connection.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            connection.close()
    raise TimeoutError(f"{name} did not answer at {url} within {timeout:.0f} s")


def wait_for_log_line(supervisor: Supervisor, name: str, text: str, timeout: float = 60.0) -> None:
    log = supervisor.log_dir / f"{name}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check_alive(name)
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{name} did not log {text!r} within {timeout:.0f} s")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    return sum(rss_kb(member) for member in process_tree(pid)) / 1024


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_pid(entry)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return tree


def parent_pid(proc_dir: Path) -> int | None:
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:  # the process ended while we looked
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
