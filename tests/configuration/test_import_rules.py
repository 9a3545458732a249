"""What an import changes (mappings, source links) and what it refuses, with the path of the
problem."""

import dataclasses
import json
from typing import Any

import pytest
from django.core.management import CommandError

from destinations.integrations import REGISTRY
from destinations.models import Destination, Mapping
from ingest.models import Source
from tests.configuration.scenario import (
    TOKEN,
    TOKEN_VARIABLE,
    export,
    import_text,
    metronome_document,
)


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
