"""An installation that upgrades converts its tables to partitions as it migrates
(destinations 0006), keeping every row."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no partitions"
)
ROOT = Path(__file__).resolve().parents[2]
# Every app as it is, but destinations before its partitions.
MIGRATE_TO_0005 = """
import django
django.setup()
from django.core.management import call_command
for app in ("auth", "admin", "sessions", "ingest"):
    call_command("migrate", app, verbosity=0)
call_command("migrate", "destinations", "0005", verbosity=0)
"""


@pytest.fixture
def database_url():
    """A database of its own, as an installation that ran the migrations before 0006."""
    server = settings.DATABASES["default"]
    name = f"switchyard_conversion_{uuid.uuid4().hex[:8]}"
    admin_url = f"postgres://{server['USER']}@{server['HOST']}:{server['PORT'] or 5432}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run(database_url: str, *args: str) -> str:
    environment = os.environ | {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRETS_KEYS": "kVSdYmBfXbnJKtmChX0ar9bOYv3HbFrMRhcsOs5l7Ns=",
        "PYTHONPATH": str(ROOT),
        "ALLOW_PRIVATE_DESTINATIONS": "true",
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def kinds(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as database:
        rows = database.execute(
            "SELECT relname, relkind FROM pg_class WHERE relname IN ('ingest_event', "
            "'destinations_delivery', 'destinations_deliveryattempt', "
            "'destinations_deliveryattempt_deliveries')"
        ).fetchall()
    return dict(rows)


def test_converting_to_partitions_keeps_every_row_of_every_status(database_url):
    run(database_url, "-c", MIGRATE_TO_0005)
    run(database_url, "-m", "tests.infra.conversion_rows", "fill")
    assert set(kinds(database_url).values()) == {"r"}
    before = orjson.loads(run(database_url, "-m", "tests.infra.conversion_rows", "read"))

    run(database_url, "manage.py", "migrate", "-v", "0")

    assert set(kinds(database_url).values()) == {"p"}
    after = orjson.loads(run(database_url, "-m", "tests.infra.conversion_rows", "read"))
    assert after == before
    assert len(after["deliveries"]) == 18
    assert {status for _, _, status, _ in after["deliveries"]} == {
        "pending",
        "held",
        "in_flight",
        "retrying",
        "delivered",
        "failed",
    }
    # New rows take ids after the copied ones.
    added = orjson.loads(run(database_url, "-m", "tests.infra.conversion_rows", "add"))
    assert added > max(pk for pk, *_ in after["events"])
