"""`make run`: the whole stack in the foreground on embedded defaults.

Migrates, makes sure Redis answers (starting a private one under var/ when it does not and
redis-server is installed), creates the admin user and the Demo source, then runs the web
server, a Celery worker and Celery beat together; Ctrl-C stops them all.
"""

import os
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import redis
from cryptography.fernet import Fernet
from honcho.manager import Manager

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable


def main() -> int:
    VAR_DIR.mkdir(exist_ok=True)
    set_embedded_defaults()
    manage("migrate", "--noinput", "-v", "0")
    manager = Manager()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if not redis_answers(redis_url):
        if not shutil.which("redis-server"):
            print(NO_REDIS.format(url=redis_url), file=sys.stderr)
            return 1
        manager.add_process("redis", private_redis_command(redis_url))
    host, port = os.environ["HOST"], os.environ["PORT"]
    manage("bootstrap", "--base-url", f"http://{host}:{port}")
    bin_dir = Path(PYTHON).parent
    manager.add_process(
        "web",
        command(bin_dir / "gunicorn", "-c", BASE_DIR / "project/gunicorn.conf.py", "project.wsgi"),
    )
    # Warnings only: at info level, the one-second sweep would fill the terminal.
    celery = (bin_dir / "celery", "-A", "project")
    manager.add_process("worker", command(*celery, "worker", "-l", "warning"))
    schedule = VAR_DIR / "celerybeat-schedule"
    manager.add_process("beat", command(*celery, "beat", "-l", "warning", "-s", schedule))
    manager.loop()
    return manager.returncode or 0


def set_embedded_defaults() -> None:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("ALLOW_PRIVATE_DESTINATIONS", "true")
    os.environ.setdefault("HOST", "127.0.0.1")
    os.environ.setdefault("PORT", "8000")
    os.environ.setdefault("WEB_CONCURRENCY", "2")
    os.environ.setdefault("SECRET_KEY", persistent_secret("secret_key", token_urlsafe))
    os.environ.setdefault("SECRETS_KEYS", persistent_secret("secrets_key", fernet_key))


def persistent_secret(name: str, make: Callable[[], str]) -> str:
    """A random key kept under var/, so sessions and secrets survive restarts of `make run`."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def token_urlsafe() -> str:
    return secrets.token_urlsafe(50)


def fernet_key() -> str:
    return Fernet.generate_key().decode()


def manage(*args: str) -> None:
    subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], check=True)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def private_redis_command(url: str) -> str:
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(exist_ok=True)
    parts = urlsplit(url)
    return command(
        "redis-server",
        "--bind",
        parts.hostname or "127.0.0.1",
        "--port",
        parts.port or 6379,
        "--dir",
        data_dir,
    )


def command(*parts: object) -> str:
    return shlex.join(str(part) for part in parts)


NO_REDIS = """Nothing answers at REDIS_URL={url} and redis-server is not installed.
Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)
or point REDIS_URL at a running server, then run `make run` again."""

if __name__ == "__main__":
    sys.exit(main())
