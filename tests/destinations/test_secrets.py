"""Destination secrets (docs/security.md, "Secrets at rest"): encrypted at rest, never shown, logged
or raised."""

import logging

import pytest
from django.db import connection

from destinations.admin.forms import destination_form
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets, SecretsUnreadable
from tests.servers import free_port

TOKEN = "mtr-very-secret-token-1234"


@pytest.fixture
def metronome(db) -> Destination:
    return create_destination("metronome", "Billing", secrets={"api_token": TOKEN})


def test_a_secret_is_stored_encrypted_in_the_database_row(metronome):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM destinations_destination WHERE id = %s", [metronome.pk])
        row = " ".join(str(value) for value in cursor.fetchone())

    assert TOKEN not in row
    assert Destination.objects.get().secrets["api_token"] == TOKEN


def test_secrets_and_config_never_show_their_values_in_repr(metronome):
    for shown in (repr(metronome.secrets), str(metronome.secrets), repr(metronome.config())):
        assert TOKEN not in shown
        assert "api_token" in shown


def test_the_settings_form_never_renders_a_stored_secret(metronome):
    form = destination_form("metronome")(instance=metronome)

    html = form.as_div()

    assert TOKEN not in html
    assert "••••" in html


def test_an_empty_secret_field_keeps_the_stored_secret_and_a_new_value_replaces_it(metronome):
    form_class = destination_form("metronome")
    data = {"name": "Billing", "enabled": "on", "api_token": ""}

    form_class(data, instance=metronome).save()
    assert Destination.objects.get().secrets["api_token"] == TOKEN

    form_class(data | {"api_token": "new-token"}, instance=metronome).save()
    assert Destination.objects.get().secrets["api_token"] == "new-token"


def test_a_failed_connection_test_does_not_log_or_report_the_secret(metronome, caplog):
    metronome.settings = {"base_url": f"http://127.0.0.1:{free_port()}"}
    caplog.set_level(logging.DEBUG)

    check = check_connection(metronome)

    assert not check.ok
    assert TOKEN not in check.message
    assert TOKEN not in caplog.text


def test_secrets_under_a_dropped_key_are_reported_as_unreadable_without_the_value(
    metronome, settings
):
    from cryptography.fernet import Fernet

    settings.SECRETS_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(SecretsUnreadable) as raised:
        Destination.objects.get().secrets  # noqa: B018

    assert TOKEN not in str(raised.value)


def test_a_secret_in_the_plain_settings_is_refused(db):
    destination = Destination(name="Leaky", kind="metronome", settings={"api_token": TOKEN})

    with pytest.raises(Exception, match="secrets belong in the secrets"):
        destination.full_clean()


def test_empty_secrets_print_as_an_empty_mapping():
    assert repr(Secrets()) == "Secrets()"
