"""Production settings: what `DEBUG=false` turns on (docs/security.md, "Production settings")."""

import os
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.servers import BASE_DIR

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SECRETS_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "switchyard.example.com",
    "METRICS_TOKEN": secrets.token_urlsafe(24),
}
# What the test runner sets for plain-http tests must not leak into the production check.
TEST_ONLY = ("SECURE_SSL_REDIRECT", "SECRET_KEY", "DEBUG")


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_deploy_check_passes_without_a_warning_when_debug_is_off():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_warns_when_metrics_have_no_token():
    result = manage("check", "--deploy", **(PRODUCTION | {"METRICS_TOKEN": ""}))

    assert "switchyard.W001" in result.stderr + result.stdout
    assert "METRICS_TOKEN is empty" in result.stderr + result.stdout


def test_without_a_secret_key_and_debug_off_nothing_starts():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}

    result = manage("check", **env)

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
