"""Table sources in configuration files: their columns as they are, the connection URL as an
environment reference, never its value."""

import io
import json
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from configuration.document import TABLE_SOURCE_COLUMNS, ConfigurationError
from configuration.importing import import_configuration
from destinations.models import Destination
from ingest.models import Source
from tables.models import TableSource
from tests.configuration.scenario import (
    empty_the_database,
    export,
    import_text,
    set_exported_variables,
    writes,
)

PASSWORD = "wh-pass-5f2c9a"
URL = f"postgresql://reader:{PASSWORD}@warehouse.example.com:5432/analytics"
URL_VARIABLE = "SWITCHYARD_TABLE_SOURCE_SALES_PREDICTIONS_URL"
# Every column away from its default, so that a round trip that lost one would show.
COLUMNS: dict[str, Any] = {
    "table": "",
    "query": "SELECT customer_id, email, churn_score, scored_at FROM ml.customer_scores",
    "key_columns": "customer_id, region",
    "identity_column": "email",
    "identity": "anonymousId",
    "emit": "identify",
    "event_name": "",
    "columns": "churn_score",
    "timestamp_column": "scored_at",
    "changes": "added",
    "emit_deleted": True,
    "schedule_minutes": 60,
    "timeout_seconds": 120,
    "enabled": False,
}


def make_table_source(source: Source, name: str = "Sales predictions", **columns) -> TableSource:
    table_source = TableSource(name=name, source=source, **(COLUMNS | columns))
    table_source.set_connection_url(URL)
    table_source.full_clean()
    table_source.save()
    return table_source


@pytest.fixture
def predictions(configured) -> TableSource:
    """make_table_source on configured's Web source."""
    return make_table_source(Source.objects.get(name="Web"))


def item(**changes) -> dict[str, Any]:
    """A table source as a document lists it: on Web, the connection from URL_VARIABLE."""
    written = {"name": "Sales predictions", "source": "Web", "connection": {"env": URL_VARIABLE}}
    written |= {"table": "customer_scores", "key_columns": "customer_id"}
    written |= {"identity_column": "email", "event_name": "Sales Prediction"}
    return {key: value for key, value in (written | changes).items() if value is not None}


def document(*table_sources: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "sources": [{"name": "Web"}], "table_sources": list(table_sources)}


def table_sources() -> list[dict[str, Any]]:
    """Every table source as comparable values, its connection URL decrypted."""
    return [
        {"name": t.name, "source": t.source.name, "url": t.connection_url}
        | {key: getattr(t, key) for key in TABLE_SOURCE_COLUMNS}
        for t in TableSource.objects.select_related("source").order_by("name")
    ]


# Export and import


def test_export_then_import_on_an_empty_database_gives_the_same_document(
    predictions, tmp_path, monkeypatch
):
    before, text = table_sources(), export()
    set_exported_variables(monkeypatch)
    monkeypatch.setenv(URL_VARIABLE, URL)
    empty_the_database()
    assert not TableSource.objects.exists()

    import_text(text, tmp_path)

    assert export() == text
    assert table_sources() == before
    [exported] = json.loads(text)["table_sources"]
    assert list(exported) == ["name", "source", "connection", *TABLE_SOURCE_COLUMNS]
    assert (exported["name"], exported["source"]) == ("Sales predictions", "Web")
    assert {key: exported[key] for key in COLUMNS} == COLUMNS


def test_importing_twice_writes_nothing_the_second_time(db):
    environ = {URL_VARIABLE: URL}
    first = import_configuration(document(item()), environ=environ)

    with CaptureQueriesContext(connection) as queries:
        second = import_configuration(document(item()), environ=environ)

    assert first.counts["table_sources"] == {"created": 1}
    assert second.counts["table_sources"] == {"unchanged": 1}
    assert writes(queries) == []


def test_a_table_source_left_out_keys_gets_the_models_defaults(db):
    import_configuration(document(item()), environ={URL_VARIABLE: URL})

    made = TableSource.objects.get()
    expected = {key: getattr(TableSource(), key) for key in TABLE_SOURCE_COLUMNS}
    expected |= {"table": "customer_scores", "key_columns": "customer_id"}
    expected |= {"identity_column": "email", "event_name": "Sales Prediction"}
    assert {key: getattr(made, key) for key in TABLE_SOURCE_COLUMNS} == expected
    assert (made.source.name, made.connection_url) == ("Web", URL)


def test_a_changed_column_updates_the_table_source_in_place(predictions):
    exported = json.loads(export())
    exported["table_sources"][0]["schedule_minutes"] = 15

    summary = import_configuration(exported, environ={})

    assert summary.counts["table_sources"] == {"updated": 1}
    assert TableSource.objects.get(pk=predictions.pk).schedule_minutes == 15


# The connection URL


def test_the_url_never_appears_in_the_exported_text(predictions):
    text = export()

    assert PASSWORD not in text
    assert "warehouse.example.com" not in text
    assert json.loads(text)["table_sources"][0]["connection"] == {"env": URL_VARIABLE}


@pytest.mark.parametrize(
    ("connection_reference", "message"),
    [
        ({"env": URL_VARIABLE}, f"table_sources[0].connection: {URL_VARIABLE} is not set"),
        (None, 'table_sources[0].connection: required, as {"env": "VARIABLE_NAME"}'),
        (URL, 'table_sources[0].connection: expected {"env": "VARIABLE_NAME"}'),
    ],
)
def test_a_new_table_source_needs_its_connection_variable_set(db, connection_reference, message):
    with pytest.raises(ConfigurationError) as error:
        import_configuration(document(item(connection=connection_reference)), environ={})

    assert str(error.value) == message
    # All or nothing: the source the same document creates is taken back too.
    assert not Source.objects.exists()


def test_an_unset_variable_keeps_the_stored_url_of_a_table_source(predictions):
    exported = json.loads(export())
    summary = import_configuration(exported, environ={})
    del exported["table_sources"][0]["connection"]
    left_out = import_configuration(exported, environ={})

    assert summary.counts["table_sources"] == {"unchanged": 1}
    assert left_out.counts["table_sources"] == {"unchanged": 1}
    assert TableSource.objects.get().connection_url == URL


def test_a_set_variable_replaces_the_stored_url(predictions, tmp_path, monkeypatch):
    moved = "postgresql://reader:new-pass@replica.example.com/analytics"
    monkeypatch.setenv(URL_VARIABLE, moved)

    import_text(export(), tmp_path)

    assert TableSource.objects.get(pk=predictions.pk).connection_url == moved


# Refused documents, with the path of the problem


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": "Nowhere"}, "table_sources[0].source: no source is called 'Nowhere'"),
        ({"source": None}, "table_sources[0].source: required"),
        ({"key_columns": None}, "table_sources[0].key_columns: required"),
        ({"query": "SELECT 1"}, "table_sources[0]: Give a table or a query, not both."),
        ({"event_name": ""}, "table_sources[0].event_name: A track event needs a name."),
        ({"identity": "email"}, "table_sources[0].identity: Value 'email' is not a valid"),
        ({"schedule_minutes": 0}, "table_sources[0].schedule_minutes: At least 1 minute"),
        ({"timeout_seconds": "300"}, "table_sources[0].timeout_seconds: expected an integer"),
        ({"emit_deleted": 1}, "table_sources[0].emit_deleted: expected true or false"),
        ({"tabel": "x"}, "table_sources[0]: unknown key 'tabel'"),
        ({"name": ""}, "table_sources[0].name: This field cannot be blank."),
    ],
)
def test_an_invalid_table_source_is_refused_with_its_path(db, changes, message):
    with pytest.raises(ConfigurationError) as error:
        import_configuration(document(item(**changes)), environ={URL_VARIABLE: URL})

    assert str(error.value).startswith(message)
    assert not Source.objects.exists()
    assert not TableSource.objects.exists()


def test_a_url_no_connector_reads_is_refused_without_showing_it(db):
    environ = {URL_VARIABLE: f"mysql://reader:{PASSWORD}@warehouse.example.com/analytics"}

    with pytest.raises(ConfigurationError) as error:
        import_configuration(document(item()), environ=environ)

    assert str(error.value).startswith(
        f"table_sources[0].connection: the value of {URL_VARIABLE}: no connector reads mysql://"
    )
    assert PASSWORD not in str(error.value)


def test_the_same_name_twice_is_refused(db):
    with pytest.raises(ConfigurationError, match=r"table_sources\[1\].name: .* table_sources\[0\]"):
        import_configuration(document(item(), item()), environ={URL_VARIABLE: URL})


# Prune


def test_prune_deletes_the_table_sources_the_document_does_not_list(predictions, tmp_path):
    make_table_source(predictions.source, "Churn scores")
    exported = json.loads(export())
    exported["table_sources"] = [
        t for t in exported["table_sources"] if t["name"] != "Churn scores"
    ]

    kept = import_configuration(exported, environ={})
    assert TableSource.objects.count() == 2
    pruned = import_configuration(exported, environ={}, prune=True)

    assert list(TableSource.objects.values_list("name", flat=True)) == ["Sales predictions"]
    assert kept.counts["table_sources"] == {"unchanged": 1}
    assert pruned.counts["table_sources"] == {"unchanged": 1, "removed": 1}


def test_prune_leaves_table_sources_alone_when_the_document_has_no_such_section(predictions):
    exported = json.loads(export())
    del exported["table_sources"]

    summary = import_configuration(exported, environ={}, prune=True)

    assert TableSource.objects.filter(pk=predictions.pk).exists()
    assert summary.counts["table_sources"] == {}


# Key rotation


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_rotate_secrets_reencrypts_table_source_connections(predictions, settings):
    before = predictions.encrypted_connection
    settings.SECRETS_KEYS = [new := new_key(), settings.SECRETS_KEYS[0]]
    output = io.StringIO()

    call_command("rotate_secrets", stdout=output)
    settings.SECRETS_KEYS = [new]

    rotated = TableSource.objects.get(pk=predictions.pk)
    assert rotated.encrypted_connection != before
    assert rotated.connection_url == URL
    assert "2 destination(s) and the connections of 1 table source(s)" in output.getvalue()


def test_rotate_secrets_changes_nothing_when_a_connection_is_unreadable(predictions, settings):
    stranger = Fernet(new_key()).encrypt(b'{"url": "postgresql://x"}').decode()
    TableSource.objects.filter(pk=predictions.pk).update(encrypted_connection=stranger)
    secrets = list(Destination.objects.order_by("pk").values_list("encrypted_secrets", flat=True))
    settings.SECRETS_KEYS = [new_key(), settings.SECRETS_KEYS[0]]

    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("rotate_secrets")

    assert TableSource.objects.get(pk=predictions.pk).encrypted_connection == stranger
    assert (
        list(Destination.objects.order_by("pk").values_list("encrypted_secrets", flat=True))
        == secrets
    )
