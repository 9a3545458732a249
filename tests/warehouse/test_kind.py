"""The kind in the catalog: its URL under the address policy, its settings' checks, Test
connection's rehearsal of a load, and the dry run that shows the rows."""

import uuid

import orjson
import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from psycopg import sql

from destinations.integrations import REGISTRY
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from tests.destinations.delivery.scenario import ingest_and_route
from tests.destinations.delivery.scenario import track as sdk_track
from tests.destinations.events import track
from tests.tables.conftest import admin_url
from tests.warehouse.test_delivery import load_now

KIND = REGISTRY["postgres_warehouse"]


def warehouse_destination(url: str, **settings):
    return create_destination("postgres_warehouse", "Warehouse", settings, {"connection_url": url})


@pytest.fixture
def guard_on(settings):
    settings.ALLOW_PRIVATE_DESTINATIONS = False


@pytest.fixture
def powerless_role():
    """A login that may connect and do nothing else."""
    name = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url("postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(admin_url("postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_a_private_address_is_refused_when_saving_unless_private_addresses_are_allowed(
    db, guard_on, warehouse
):
    with pytest.raises(ValidationError) as raised:
        warehouse_destination(warehouse.url)

    assert raised.value.messages == [
        "Connection URL: refused: 127.0.0.1 is a private address "
        "(ALLOW_PRIVATE_DESTINATIONS is off)"
    ]


def test_switchyards_own_database_is_refused_whatever_the_setting(db):
    own = django_settings.DATABASES["default"]
    if own["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("Switchyard runs on SQLite here")
    url = f"postgresql://postgres@127.0.0.1:{own.get('PORT') or 5432}/{own['NAME']}"

    with pytest.raises(ValidationError) as raised:
        warehouse_destination(url)

    assert raised.value.messages == ["Connection URL: refused: this is Switchyard's own database"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://warehouse.example.com", "must be a postgresql:// URL"),
        ("postgresql://loader@%2Fvar%2Frun/db", "refused: socket paths are not allowed"),
        (
            "postgresql://loader@db.example.com/x?passfile=/etc/pw",
            "refused: the option passfile is not allowed (only channel_binding, sslmode, "
            "sslrootcert)",
        ),
    ],
)
def test_a_url_the_policy_refuses_cannot_be_saved(db, url, problem):
    with pytest.raises(ValidationError) as raised:
        warehouse_destination(url)

    assert raised.value.messages == [f"Connection URL: {problem}"]


def test_a_load_interval_under_30_seconds_is_refused(db, warehouse):
    with pytest.raises(ValidationError) as raised:
        warehouse_destination(warehouse.url, load_interval=10)

    assert raised.value.messages == ["Load interval (seconds): must be at least 30 seconds"]


def test_test_connection_rehearses_a_load_and_leaves_nothing_behind(db, warehouse):
    destination = warehouse_destination(warehouse.url)

    checked = check_connection(destination)

    assert checked.ok, checked.message
    assert checked.message.startswith("connected to PostgreSQL ")
    assert checked.message.endswith("allowed to create schema, create table, alter, COPY")
    with warehouse.connect() as connection:
        schemas = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'switchyard_check%'"
        ).fetchall()
    assert schemas == []


def test_test_connection_says_which_right_a_login_lacks(db, warehouse, powerless_role):
    url = warehouse.url.replace("postgres@", f"{powerless_role}:pw@")
    destination = warehouse_destination(url)

    checked = check_connection(destination)

    assert not checked.ok
    assert checked.message == f"permission denied for database {warehouse.name}"


def test_test_connection_to_a_closed_port_says_it_cannot_connect(db, warehouse):
    destination = warehouse_destination(warehouse.url.replace(":5432/", ":1/"))

    checked = check_connection(destination)

    assert not checked.ok
    assert "Connection refused" in checked.message or "connection failed" in checked.message


def test_the_dry_run_shows_the_rows_each_table_would_get_without_the_password():
    config_url = "postgresql://loader:hunter22@db.example.com/analytics"
    destination_config = type("C", (dict,), {})(connection_url=config_url)
    action = KIND.action("load")

    [request] = action.build(destination_config, [{"event": track(event="Signed Up")}])

    assert (request.method, request.url) == ("COPY", "postgresql://loader@db.example.com/analytics")
    rows = orjson.loads(request.body)
    assert set(rows) == {"tracks", "signed_up"}
    assert rows["signed_up"][0]["endpoint"] == "/v1/search"
    assert b"hunter22" not in request.body


def test_rotating_the_secrets_key_keeps_the_warehouse_loading(db, warehouse, settings, source):
    destination = warehouse_destination(warehouse.url)
    destination.sources.set([source])
    old = settings.SECRETS_KEYS[0]
    settings.SECRETS_KEYS = [new := Fernet.generate_key().decode(), old]

    call_command("rotate_secrets")
    settings.SECRETS_KEYS = [new]

    rotated = Destination.objects.get(pk=destination.pk)
    assert rotated.config()["connection_url"] == warehouse.url
    ingest_and_route(source, sdk_track(1))
    load_now(rotated)
    assert len(warehouse.rows("tracks", schema="test_app")) == 1
