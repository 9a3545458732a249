"""Table sources obey the private-address policy: the URL an editor types reaches no socket,
no local file, no private address (unless ALLOW_PRIVATE_DESTINATIONS is on) and never
Switchyard's own database; the address checked is the address connected to."""

import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings

from tables import services
from tables.connectors import ReadFailed, connector_for
from tables.models import Run, TableSource
from tests.servers import free_port
from tests.tables.test_admin import ADD, form
from tests.tables.test_sync import run_once

PRIVATE_REFUSAL = "refused: 127.0.0.1 is a private address (ALLOW_PRIVATE_DESTINATIONS is off)"
SOCKETS_REFUSAL = "refused: socket paths are not allowed"
OWN_REFUSAL = "refused: this is Switchyard's own database"


@pytest.fixture
def guard_on(settings):
    settings.ALLOW_PRIVATE_DESTINATIONS = False


def check(url: str) -> tuple[str, str]:
    """What Test connection says: ("ok", the answer) or (the failure's kind, its message)."""
    try:
        return "ok", connector_for(url).check(url)
    except ReadFailed as failure:
        return failure.kind, str(failure)


def database_of(url: str) -> str:
    return urlsplit(url).path[1:]


def resolver(monkeypatch, answers: dict[str, list[list[str]]]) -> None:
    """DNS giving each name of `answers` its answers in turn (the last one from then on), and
    the usual answers to other names."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        turns = answers[host]
        addresses = turns.pop(0) if len(turns) > 1 else turns[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_the_local_postgresql_is_refused_when_private_addresses_are_not_allowed(
    guard_on, warehouse
):
    assert check(warehouse.url) == ("refused", PRIVATE_REFUSAL)


def test_with_private_addresses_allowed_the_local_postgresql_answers(warehouse):
    kind, answer = check(warehouse.url)

    assert (kind, answer.split(" ")[:2]) == ("ok", ["connected:", "PostgreSQL"])


def test_a_closed_port_and_an_open_one_on_a_private_address_are_refused_alike(guard_on):
    answers = {check(f"postgresql://reader@127.0.0.1:{port}/db") for port in (5432, free_port())}

    assert answers == {("refused", PRIVATE_REFUSAL)}
    assert check("postgresql://reader@169.254.169.254:80/latest")[0] == "refused"


def test_a_public_looking_name_resolving_to_a_private_address_is_refused_without_the_address(
    guard_on, monkeypatch
):
    resolver(monkeypatch, {"warehouse.example.com": [["93.184.215.14", "10.0.0.5"]]})

    kind, message = check("postgresql://reader:pw@warehouse.example.com/analytics")

    assert (kind, message) == (
        "refused",
        "refused: warehouse.example.com resolves to a private address "
        "(ALLOW_PRIVATE_DESTINATIONS is off)",
    )


def test_the_connection_goes_to_the_address_that_was_checked_not_to_a_new_dns_answer(
    warehouse, monkeypatch
):
    # Asked again, DNS would name a loopback address where no PostgreSQL listens.
    resolver(monkeypatch, {"warehouse.example.com": [["127.0.0.1"], ["127.0.0.3"]]})
    url = f"postgresql://postgres@warehouse.example.com:5432/{database_of(warehouse.url)}"

    assert check(url)[0] == "ok"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@/{db}?host=/var/run/postgresql",
        "postgresql://postgres@127.0.0.1/{db}?host=%2Fvar%2Frun%2Fpostgresql",
        "postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/{db}",
        "postgresql:///{db}",
        "postgresql://postgres@127.0.0.1/{db}?host=@switchyard",
        "postgresql://postgres@127.0.0.1/{db}?hostaddr=/var/run/postgresql",
    ],
)
def test_a_socket_path_is_refused_whatever_the_setting(url):
    assert check(url.format(db="warehouse")) == ("refused", SOCKETS_REFUSAL)


@pytest.mark.parametrize(
    "option",
    [
        "passfile=/tmp/pgpass",
        "service=warehouse",
        "servicefile=/etc/passwd",
        "sslkey=/etc/ssl/private/ssl-cert-snakeoil.key",
        "sslcert=/etc/ssl/certs/ssl-cert-snakeoil.pem",
        "sslrootcert=/etc/ssl/certs/ca-certificates.crt",
        "sslcrl=/etc/passwd",
        "sslcrldir=/etc",
        "sslpassword=x",
        "hostaddr=127.0.0.1",
        "host=127.0.0.1",
        "port=5432",
        "dbname=postgres",
        "user=postgres",
        "options=-c%20search_path%3Dpublic",
        "krbsrvname=postgres",
        "gssencmode=prefer",
        "sslcertmode=allow",
        "connect_timeout=1",
    ],
)
def test_an_option_beyond_tls_mode_and_channel_binding_is_refused(option):
    kind, message = check(f"postgresql://postgres@127.0.0.1/warehouse?sslmode=disable&{option}")

    assert kind == "refused"
    assert option.split("=")[0] in message


def test_the_allowed_options_are_passed_on(warehouse):
    url = f"{warehouse.url}?sslmode=disable&channel_binding=disable"

    assert check(url)[0] == "ok"
    connector_for(url).vet(f"{warehouse.url}?sslmode=verify-full&sslrootcert=system")


def test_several_hosts_are_refused():
    url = "postgresql://postgres@127.0.0.1:5432,127.0.0.1:5432/warehouse"

    assert check(url) == ("refused", "refused: a URL names one host, not several")


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2", "[::ffff:127.0.0.1]"])
def test_switchyards_own_database_is_refused_whatever_the_setting(host):
    own = django_settings.DATABASES["default"]
    url = f"postgresql://{own['USER']}@{host}:{own['PORT'] or 5432}/{own['NAME']}"

    assert check(url) == ("refused", OWN_REFUSAL)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "credentials, database",
    [("postgres:pw%zz", "{name}"), ("postgres", "{name}%00x"), ("postgres%00", "{name}")],
    ids=["bad-escape", "nul-in-database", "nul-in-user"],
)
def test_a_url_libpq_would_read_otherwise_is_refused_before_connecting(credentials, database):
    # libpq reads a C string: a NUL would end the name where the own-database rule did not.
    own = django_settings.DATABASES["default"]
    url = f"postgresql://{credentials}@127.0.0.1:{own['PORT'] or 5432}/{database}"

    kind, message = check(url.format(name=own["NAME"]))

    assert (kind, message.split(":")[0]) == ("unreachable", "malformed URL")


@pytest.mark.django_db
def test_a_preview_of_switchyards_sessions_is_refused(table_source):
    own = django_settings.DATABASES["default"]
    url = f"postgresql://{own['USER']}@127.0.0.1:{own['PORT'] or 5432}/{own['NAME']}"
    table = table_source(url=url, table="django_session", key_columns="session_key")

    preview = services.preview(table)

    assert (preview.rows, preview.problem) == ([], OWN_REFUSAL)


@pytest.mark.django_db
def test_a_table_source_saved_earlier_is_refused_at_connect_time(table_source, warehouse, settings):
    table = table_source()
    settings.ALLOW_PRIVATE_DESTINATIONS = False

    failed = run_once(table)

    assert (failed.status, failed.error_kind, failed.error) == (
        Run.Status.FAILED,
        "refused",
        PRIVATE_REFUSAL,
    )
    assert services.check_connection(table) == (False, PRIVATE_REFUSAL)
    assert services.preview(table).problem == PRIVATE_REFUSAL


OWN_URL = "postgresql://reader@127.0.0.1:{port}/{name}"


@pytest.mark.parametrize(
    "allow_private, url, refusal",
    [
        (False, "postgresql://reader:pw@127.0.0.1/analytics", PRIVATE_REFUSAL),
        (True, "postgresql://reader:pw@/analytics?host=/var/run/postgresql", SOCKETS_REFUSAL),
        (True, OWN_URL, OWN_REFUSAL),
    ],
    ids=["private", "socket", "own-database"],
)
def test_an_editor_cannot_save_a_url_a_rule_refuses(
    editor, source, settings, allow_private, url, refusal
):
    settings.ALLOW_PRIVATE_DESTINATIONS = allow_private
    own = django_settings.DATABASES["default"]
    url = url.format(port=own["PORT"] or 5432, name=own["NAME"])

    response = editor.post(ADD, form(source, connection_url=url))

    assert response.context["adminform"].form.errors["connection_url"] == [refusal]
    assert not TableSource.objects.exists()


def test_a_name_that_does_not_resolve_yet_is_saved_and_judged_when_connecting(
    guard_on, editor, source
):
    url = "postgresql://reader:pw@warehouse.invalid/analytics"

    response = editor.post(ADD, form(source, connection_url=url), follow=True)

    assert response.redirect_chain
    assert TableSource.objects.get().connection_url == url
