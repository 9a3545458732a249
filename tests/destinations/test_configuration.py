import dataclasses
import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from destinations.configuration import env_name
from destinations.integrations import REGISTRY
from destinations.integrations.base import Kind
from destinations.models import Destination, Mapping
from destinations.services import create_destination
from ingest.models import Source

TOKEN = "mtr-secret-token-1234"
TOKEN_VARIABLE = "SWITCHYARD_METRONOME_BILLING_API_TOKEN"
WEB_KEY = "web-write-key-" + "w" * 30
WEB_KEY_VARIABLE = "SWITCHYARD_SOURCE_WEB_WRITE_KEY"
IOS_KEY_VARIABLE = "SWITCHYARD_SOURCE_IOS_APP_WRITE_KEY"
MAPPING_FIELDS = ("name", "action", "trigger", "fields", "enabled", "batch_size", "flush_interval")
SIGNUPS_FIELDS = {
    "transaction_id": {"@path": "$.messageId"},
    "customer_id": {"@path": "$.userId"},
    "timestamp": {"@path": "$.timestamp"},
    "event_type": "signup",
    "properties": {"plan": {"@path": "$.properties.plan"}},
}


@pytest.fixture
def configured(db) -> None:
    """Two sources, a Metronome destination with every mapping field set, a second one."""
    web = Source.objects.create(name="Web", write_key=WEB_KEY)
    Source.objects.create(name="iOS app", enabled=False, rate_limit=500)
    billing = create_destination(
        "metronome",
        "Metronome billing",
        settings={"base_url": "https://metronome.example.com"},
        secrets={"api_token": TOKEN},
        sources=[web],
    )
    billing.mappings.update(batch_size=50, flush_interval=2.5, enabled=False)
    Mapping.objects.create(
        destination=billing,
        name="Signups",
        action="send_event",
        trigger='type = "track" and event = "Signed Up"',
        fields=SIGNUPS_FIELDS,
    )
    create_destination("metronome", "Metronome staging", secrets={"api_token": "t2"}, enabled=False)


def export(*options: str) -> str:
    out = io.StringIO()
    call_command("export_config", *options, stdout=out)
    return out.getvalue()


def import_text(text: str, tmp_path, *options: str) -> str:
    path = tmp_path / "switchyard.json"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_config", str(path), *options, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    """Everything the configuration describes, as comparable values."""
    mappings = Mapping.objects.order_by("destination__name", "name")
    return {
        "sources": list(
            Source.objects.order_by("name").values("name", "enabled", "rate_limit", "write_key")
        ),
        "destinations": [
            {
                "name": d.name,
                "kind": d.kind,
                "settings": d.settings,
                "secrets": dict(d.secrets),
                "enabled": d.enabled,
                "sources": sorted(d.sources.values_list("name", flat=True)),
            }
            for d in Destination.objects.order_by("name")
        ],
        "mappings": list(mappings.values("destination__name", *MAPPING_FIELDS)),
    }


def empty_the_database() -> None:
    Destination.objects.all().delete()
    Source.objects.all().delete()


def set_exported_variables(monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv("SWITCHYARD_METRONOME_STAGING_API_TOKEN", "t2")
    monkeypatch.setenv(WEB_KEY_VARIABLE, WEB_KEY)
    monkeypatch.setenv(IOS_KEY_VARIABLE, Source.objects.get(name="iOS app").write_key)


def writes(queries: CaptureQueriesContext) -> list[str]:
    verbs = ("INSERT", "UPDATE", "DELETE")
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(verbs)]


def row_versions() -> dict[str, list[tuple]]:
    """What any write would change: each `updated` stamp, each secrets token."""
    return {
        "mappings": list(Mapping.objects.order_by("pk").values_list("pk", "updated")),
        "destinations": list(
            Destination.objects.order_by("pk").values_list("pk", "updated", "encrypted_secrets")
        ),
    }


def metronome_document() -> dict[str, Any]:
    """A hand-written document: a Web source and a Metronome destination fed by it."""
    usage = {"name": "Usage", "action": "send_event", "trigger": 'type = "track"'}
    billing = {
        "name": "Metronome billing",
        "kind": "metronome",
        "sources": ["Web"],
        "secrets": {"api_token": {"env": TOKEN_VARIABLE}},
        "mappings": [usage | {"fields": SIGNUPS_FIELDS}],
    }
    return {"version": 1, "sources": [{"name": "Web"}], "destinations": [billing]}


# Export, then import


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


# Secrets and write keys


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


# Mappings


def test_importing_a_destination_adds_only_the_mappings_of_the_file(db, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)

    import_text(json.dumps(metronome_document()), tmp_path)

    billing = Destination.objects.get(name="Metronome billing")
    assert list(billing.mappings.values_list("name", flat=True)) == ["Usage"]
    assert billing.secrets["api_token"] == TOKEN
    assert list(billing.sources.values_list("name", flat=True)) == ["Web"]


def test_mappings_missing_from_the_file_are_left_alone_unless_pruned(configured, tmp_path):
    document = json.loads(export())
    del document["destinations"][0]["mappings"][1]
    text = json.dumps(document)

    kept = import_text(text, tmp_path)
    assert Mapping.objects.filter(name="Signups").exists()
    pruned = import_text(text, tmp_path, "--prune")

    assert not Mapping.objects.filter(name="Signups").exists()
    assert Mapping.objects.count() == 2
    assert "mappings: 0 created, 0 updated, 2 unchanged\n" in kept
    assert "mappings: 0 created, 0 updated, 2 unchanged, 1 removed" in pruned


def test_a_changed_mapping_is_updated_in_place(configured, tmp_path):
    document = json.loads(export())
    document["destinations"][0]["mappings"][1]["trigger"] = 'event = "Upgraded"'
    signups = Mapping.objects.get(name="Signups")

    output = import_text(json.dumps(document), tmp_path)

    assert Mapping.objects.get(pk=signups.pk).trigger == 'event = "Upgraded"'
    assert "mappings: 0 created, 1 updated, 2 unchanged" in output


def test_a_destination_takes_the_source_links_of_the_file(configured, tmp_path):
    document = json.loads(export())
    document["destinations"][0]["sources"] = ["iOS app"]

    output = import_text(json.dumps(document), tmp_path)

    billing = Destination.objects.get(name="Metronome billing")
    assert list(billing.sources.values_list("name", flat=True)) == ["iOS app"]
    assert "destinations: 0 created, 1 updated, 1 unchanged" in output


# Invalid documents


def invalid(document: dict, path: str, value: Any) -> dict:
    """The document with the value at a dotted path (list indexes as numbers) replaced."""
    *parents, last = path.split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("destinations.0.kind", "segment-2", "destinations[0].kind: unknown destination kind"),
        (
            "destinations.0.mappings.0.trigger",
            'type = "track',
            "destinations[0].mappings[0].trigger:",
        ),
        ("destinations.0.mappings.0.fields", {}, "destinations[0].mappings[0].fields: required"),
        ("destinations.0.mappings.0.action", "nope", "destinations[0].mappings[0].action:"),
        ("destinations.0.mappings.0.batch_size", 1000, "destinations[0].mappings[0].batch_size:"),
        ("destinations.0.mappings.0.enabled", "yes", "mappings[0].enabled: expected true or false"),
        ("destinations.0.mappings.0.trigers", "x", "mappings[0]: unknown key 'trigers'"),
        ("destinations.0.sources.0", "Android", "destinations[0].sources[0]: no source is called"),
        ("destinations.0.settings", {"region": "eu"}, "settings.region: Metronome has no such"),
        ("destinations.0.settings", {"api_token": "x"}, "settings.api_token: a secret, so"),
        ("destinations.0.secrets.api_token", "in-clear", 'api_token: expected {"env"'),
        ("destinations.0.secrets", {}, 'secrets.api_token: required, as {"env"'),
        ("destinations.0.sources", "Web", "destinations[0].sources: expected an array"),
        ("sources.0.write_key", "short", "sources[0].write_key: a write key needs 32"),
        ("sources.0.name", "", "sources[0].name: This field cannot be blank."),
        ("sources.0.rate_limit", 2.5, "sources[0].rate_limit: expected an integer or null"),
        ("sources.0.rate_limit", -1, "sources[0].rate_limit:"),
        ("version", 2, "version: expected 1"),
    ],
)
def test_an_invalid_item_is_reported_with_its_path_and_nothing_is_written(
    db, tmp_path, monkeypatch, path, value, message
):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    text = json.dumps(invalid(metronome_document(), path, value))

    with pytest.raises(CommandError, match="nothing was imported") as error:
        import_text(text, tmp_path)

    assert message in str(error.value)
    assert not Source.objects.exists()
    assert not Destination.objects.exists()


def test_a_name_listed_twice_is_reported(db, tmp_path):
    document = {"version": 1, "sources": [{"name": "Web"}, {"name": "Web"}]}

    with pytest.raises(CommandError, match=r"sources\[1\].name: 'Web' is also sources\[0\]"):
        import_text(json.dumps(document), tmp_path)


def test_a_destination_cannot_change_kind(configured, tmp_path, monkeypatch):
    other_kind = dataclasses.replace(REGISTRY["metronome"], key="metronome-eu")
    monkeypatch.setitem(REGISTRY, "metronome-eu", other_kind)
    document = json.loads(export())
    document["destinations"][0]["kind"] = "metronome-eu"

    with pytest.raises(CommandError) as error:
        import_text(json.dumps(document), tmp_path)

    assert "destinations[0].kind: 'Metronome billing' is a metronome destination" in str(
        error.value
    )


def test_a_file_that_is_not_json_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="not a JSON document"):
        import_text("{version: 1", tmp_path)


# Standard input and every kind


def test_import_reads_standard_input_given_a_dash(db, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(metronome_document())))
    out = io.StringIO()

    call_command("import_config", "-", stdout=out)

    assert Destination.objects.get(name="Metronome billing").secrets["api_token"] == TOKEN
    assert "destinations: 1 created" in out.getvalue()


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
