"""The policy on PostgreSQL URLs an editor types, on its own: table sources
(tests/tables/test_private_addresses.py) and warehouse destinations
(tests/warehouse/test_kind.py) go through it end to end."""

import pytest
from django.conf import settings as django_settings

from infra.postgres_target import LOCAL_CREDENTIALS_OFF, TargetRefused, keywords


def refusal(url: str) -> tuple[str, str]:
    with pytest.raises(TargetRefused) as raised:
        keywords(url)
    return raised.value.kind, str(raised.value)


def test_the_keywords_pin_the_checked_address_and_turn_local_credentials_off():
    found = keywords("postgresql://loader:secret@127.0.0.1:6543/analytics?sslmode=require")

    assert found == {
        "host": "127.0.0.1",
        "hostaddr": "127.0.0.1",
        "port": 6543,
        "dbname": "analytics",
        "user": "loader",
        "password": "secret",
        "sslmode": "require",
        **LOCAL_CREDENTIALS_OFF,
    }


def test_a_private_address_is_refused_when_private_addresses_are_not_allowed(settings):
    settings.ALLOW_PRIVATE_DESTINATIONS = False

    assert refusal("postgresql://loader@10.0.0.5/db") == (
        "refused",
        "refused: 10.0.0.5 is a private address (ALLOW_PRIVATE_DESTINATIONS is off)",
    )


def test_a_socket_a_file_option_and_a_url_without_user_are_refused():
    assert refusal("postgresql://loader@%2Ftmp/db")[0] == "refused"
    assert refusal("postgresql://loader@127.0.0.1/db?passfile=/root/.pgpass")[0] == "refused"
    assert refusal("postgresql://127.0.0.1/db") == ("refused", "refused: the URL must name a user")


def test_a_malformed_url_is_told_apart_from_a_refusal():
    kind, message = refusal("postgresql://loader:bad%zzpassword@127.0.0.1/db")

    assert kind == "unreachable"
    assert "malformed URL" in message
    assert "password" not in message


def test_switchyards_own_database_is_refused_whatever_the_setting():
    own = django_settings.DATABASES["default"]
    if own["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("Switchyard runs on SQLite here")
    url = f"postgresql://someone@127.0.0.1:{own.get('PORT') or 5432}/{own['NAME']}"

    assert refusal(url) == ("refused", "refused: this is Switchyard's own database")
