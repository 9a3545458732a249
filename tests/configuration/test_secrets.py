"""Secrets and write keys in configuration files: environment references, never values."""

import json

import pytest
from django.core.management import CommandError

from configuration.document import env_name
from destinations.models import Destination
from destinations.services.destinations import create_destination
from ingest.models import Source
from tests.configuration.scenario import (
    TOKEN,
    TOKEN_VARIABLE,
    WEB_KEY,
    WEB_KEY_VARIABLE,
    empty_the_database,
    export,
    import_text,
    metronome_document,
    snapshot,
)


def test_a_secret_never_appears_in_the_exported_text(configured):
    text = export()

    assert TOKEN not in text
    assert WEB_KEY not in text
    billing = json.loads(text)["destinations"][0]
    assert billing["secrets"] == {"api_token": {"env": TOKEN_VARIABLE}}
    assert json.loads(text)["sources"][0]["write_key"] == {"env": WEB_KEY_VARIABLE}


def test_write_keys_are_written_in_clear_only_when_asked(configured, tmp_path, monkeypatch):
    text = export("--include-write-keys")
    before = snapshot()
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv("SWITCHYARD_METRONOME_STAGING_API_TOKEN", "t2")
    empty_the_database()

    import_text(text, tmp_path)

    assert json.loads(text)["sources"][0]["write_key"] == WEB_KEY
    assert TOKEN not in text
    assert snapshot() == before


def test_variable_names_come_from_the_names_in_upper_case():
    assert env_name("Metronome billing", "api_token") == TOKEN_VARIABLE
    assert (
        env_name("SOURCE", "iOS app (v2.1)", "WRITE_KEY")
        == "SWITCHYARD_SOURCE_IOS_APP_V2_1_WRITE_KEY"
    )
    assert env_name("Café crème", "api_token") == "SWITCHYARD_CAFE_CREME_API_TOKEN"
    assert env_name("計量", "api_token") == env_name("計量", "api_token")
    assert env_name("計量", "api_token") != env_name("請求", "api_token")
    assert env_name("計量", "api_token").isascii()


def test_two_secrets_with_the_same_variable_stop_the_export(db):
    create_destination("metronome", "Billing!", secrets={"api_token": "a"})
    create_destination("metronome", "Billing?", secrets={"api_token": "b"})

    with pytest.raises(CommandError, match="SWITCHYARD_BILLING_API_TOKEN: rename one of them"):
        export()


def test_an_unset_variable_keeps_the_stored_secret_and_write_key(configured, tmp_path):
    text = export()
    before = snapshot()

    output = import_text(text, tmp_path)

    assert snapshot() == before
    assert "destinations: 0 created, 0 updated, 2 unchanged" in output


def test_a_set_variable_replaces_the_stored_secret_and_write_key(configured, tmp_path, monkeypatch):
    new_key = "n" * 40
    monkeypatch.setenv(TOKEN_VARIABLE, "rotated-token")
    monkeypatch.setenv(WEB_KEY_VARIABLE, new_key)

    output = import_text(export(), tmp_path)

    assert Destination.objects.get(name="Metronome billing").secrets["api_token"] == "rotated-token"
    assert Source.objects.get(name="Web").write_key == new_key
    assert "destinations: 0 created, 1 updated, 1 unchanged" in output
    assert "sources: 0 created, 1 updated, 1 unchanged" in output


def test_a_new_destination_whose_required_secret_variable_is_unset_is_refused(db, tmp_path):
    text = json.dumps(metronome_document())

    with pytest.raises(CommandError) as error:
        import_text(text, tmp_path)

    assert f"destinations[0].secrets.api_token: {TOKEN_VARIABLE} is not set" in str(error.value)
    assert not Source.objects.exists()


def test_a_new_source_whose_write_key_variable_is_unset_gets_a_random_key(
    db, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    document = metronome_document()
    document["sources"][0]["write_key"] = {"env": WEB_KEY_VARIABLE}

    output = import_text(json.dumps(document), tmp_path)

    assert len(Source.objects.get(name="Web").write_key) >= 32
    assert f"source 'Web' got a random write key: {WEB_KEY_VARIABLE} is not set" in output
