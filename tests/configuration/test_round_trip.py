"""Export then import (docs/operations.md, "Configuration as code"): the same configuration back,
nothing written twice, every kind, standard input."""

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from configuration.document import env_name
from destinations.integrations import REGISTRY
from destinations.integrations.base import Kind
from destinations.models import Destination
from destinations.services.destinations import create_destination
from tests.configuration.scenario import (
    SIGNUPS_FIELDS,
    TOKEN,
    TOKEN_VARIABLE,
    empty_the_database,
    export,
    import_text,
    metronome_document,
    row_versions,
    set_exported_variables,
    snapshot,
    writes,
)


def test_export_then_import_on_an_empty_database_reproduces_the_configuration(
    configured, tmp_path, monkeypatch
):
    before = snapshot()
    text = export()
    set_exported_variables(monkeypatch)
    empty_the_database()

    output = import_text(text, tmp_path)

    assert snapshot() == before
    assert "sources: 2 created, 0 updated, 0 unchanged" in output
    assert "destinations: 2 created, 0 updated, 0 unchanged" in output
    assert "mappings: 3 created, 0 updated, 0 unchanged" in output


def test_importing_twice_writes_nothing_the_second_time(configured, tmp_path, monkeypatch):
    text = export()
    set_exported_variables(monkeypatch)
    empty_the_database()
    import_text(text, tmp_path)
    versions = row_versions()

    with CaptureQueriesContext(connection) as queries:
        output = import_text(text, tmp_path)

    assert writes(queries) == []
    assert row_versions() == versions
    assert "sources: 0 created, 0 updated, 2 unchanged" in output
    assert "mappings: 0 created, 0 updated, 3 unchanged" in output


def test_importing_the_export_into_the_same_database_writes_nothing(
    configured, tmp_path, monkeypatch
):
    set_exported_variables(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        output = import_text(export(), tmp_path)

    assert writes(queries) == []
    assert "destinations: 0 created, 0 updated, 2 unchanged" in output


def test_the_export_is_stable_pretty_json_with_a_trailing_newline(configured):
    text = export()

    assert text == export()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "version": 1,\n  "sources": [')
    document = json.loads(text)
    assert [s["name"] for s in document["sources"]] == ["Web", "iOS app"]
    billing = document["destinations"][0]
    assert billing["sources"] == ["Web"]
    assert billing["settings"] == {"base_url": "https://metronome.example.com"}
    assert [m["name"] for m in billing["mappings"]] == ["Send track events", "Signups"]
    assert list(billing["mappings"][1]["fields"]) == sorted(SIGNUPS_FIELDS)


# Standard input and every kind


def test_import_reads_standard_input_given_a_dash(db, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(metronome_document())))
    out = io.StringIO()

    call_command("import_config", "-", stdout=out)

    assert Destination.objects.get(name="Metronome billing").secrets["api_token"] == TOKEN
    assert "destinations: 1 created" in out.getvalue()


# For settings whose check refuses the samples above.
CHECKED_SAMPLES = {
    "connection_url": "postgresql://loader:secret-value@warehouse.example.com/analytics",
    "load_interval": 60,
    "column_cap": 500,
}


def sample_settings(kind: Kind) -> tuple[dict[str, Any], dict[str, str]]:
    """Values for every setting of a kind: plain settings, and secrets."""
    samples = {"boolean": True, "number": 3, "password": "secret-value"}
    # A URL is a valid plain string too, and settings such as base_url need one.
    settings, secrets = {}, {}
    for setting in kind.all_settings:
        value = (
            setting.choices[0]
            if setting.choices
            else samples.get(setting.type, "https://sample.example.com")
        )
        if setting.check and setting.check(value):  # a warehouse's URL, its minimums
            value = CHECKED_SAMPLES[setting.key]
        (secrets if setting.secret else settings)[setting.key] = value
    return settings, secrets


@pytest.mark.parametrize("kind_key", sorted(REGISTRY))
def test_every_kind_survives_export_and_import(db, tmp_path, monkeypatch, kind_key):
    kind = REGISTRY[kind_key]
    settings, secrets = sample_settings(kind)
    create_destination(kind_key, "Sample", settings=settings, secrets=secrets)
    before = snapshot()
    for key, value in secrets.items():
        monkeypatch.setenv(env_name("Sample", key), value)
    text = export()
    empty_the_database()

    import_text(text, tmp_path)

    assert snapshot() == before
    assert "secret-value" not in text
