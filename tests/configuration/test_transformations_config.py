"""Transformations in configuration files: their code inline, a version only when it changes,
the chains of sources and destinations by name and in order."""

import json
from typing import Any

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from destinations.models import Destination, Transformation
from destinations.services.transformations import (
    create_transformation,
    save_code,
    set_destination_chain,
    set_source_chain,
)
from ingest.models import Source
from tests.configuration.scenario import (
    TOKEN,
    TOKEN_VARIABLE,
    empty_the_database,
    export,
    import_text,
    metronome_document,
    set_exported_variables,
    writes,
)

TAG = """export function transformEvent(event, metadata) {
  event.properties = event.properties || {};
  event.properties.tagged = true;
  return event;
}
"""
DROP_TESTERS = """export function transformEvent(event) {
  if (event.userId === "tester") {
    return;
  }
  return event;
}
"""
# The closing parenthesis of the condition is missing: QuickJS stops at line 2.
BROKEN = """export function transformEvent(event) {
  if (event.userId === "tester" {
    return;
  }
  return event;
}
"""


@pytest.fixture(autouse=True)
def token(monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)


def document() -> dict[str, Any]:
    """metronome_document with two transformations: the destination runs both, in an order
    that is not the alphabetical one, and the Web source runs one."""
    written = metronome_document()
    written["transformations"] = [
        {"name": "Tag", "description": "Marks every event", "code": TAG},
        {"name": "Drop testers", "code": DROP_TESTERS},
    ]
    written["sources"][0]["transformations"] = ["Drop testers"]
    written["destinations"][0]["transformations"] = ["Tag", "Drop testers"]
    return written


def chain(owner: Source | Destination) -> list[str]:
    links = owner.transformation_links.order_by("position")
    return list(links.values_list("transformation__name", flat=True))


def versions(name: str) -> list[tuple[int, str, str]]:
    """The transformation's versions, newest first: number, author, code."""
    transformation = Transformation.objects.get(name=name)
    return list(transformation.versions.values_list("number", "created_by", "code"))


def current(name: str) -> int:
    return (
        Transformation.objects.select_related("current_version")
        .get(name=name)
        .current_version.number
    )


def test_import_creates_the_transformations_at_version_1_and_attaches_them_in_order(db, tmp_path):
    output = import_text(json.dumps(document()), tmp_path)

    assert versions("Tag") == [(1, "config", TAG)]
    assert versions("Drop testers") == [(1, "config", DROP_TESTERS)]
    assert current("Tag") == 1
    assert Transformation.objects.get(name="Tag").description == "Marks every event"
    assert Transformation.objects.get(name="Drop testers").description == ""
    assert chain(Destination.objects.get(name="Metronome billing")) == ["Tag", "Drop testers"]
    assert chain(Source.objects.get(name="Web")) == ["Drop testers"]
    assert "transformations: 2 created, 0 updated, 0 unchanged" in output


def test_importing_the_same_document_again_saves_no_version_and_writes_nothing(db, tmp_path):
    text = json.dumps(document())
    import_text(text, tmp_path)

    with CaptureQueriesContext(connection) as queries:
        output = import_text(text, tmp_path)

    assert writes(queries) == []
    assert versions("Tag") == [(1, "config", TAG)]
    assert "transformations: 0 created, 0 updated, 2 unchanged" in output
    assert "sources: 0 created, 0 updated, 1 unchanged" in output
    assert "destinations: 0 created, 0 updated, 1 unchanged" in output


def test_changed_code_saves_version_2_and_keeps_version_1(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    changed = document()
    changed["transformations"][0]["code"] = TAG.replace("true", '"yes"')

    output = import_text(json.dumps(changed), tmp_path)

    assert versions("Tag") == [(2, "config", TAG.replace("true", '"yes"')), (1, "config", TAG)]
    assert current("Tag") == 2
    assert versions("Drop testers") == [(1, "config", DROP_TESTERS)]
    assert "transformations: 0 created, 1 updated, 1 unchanged" in output


def test_a_changed_description_is_saved_without_a_new_version(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    changed = document()
    changed["transformations"][1]["description"] = "Testers' events go nowhere"

    output = import_text(json.dumps(changed), tmp_path)

    testers = Transformation.objects.get(name="Drop testers")
    assert testers.description == "Testers' events go nowhere"
    assert versions("Drop testers") == [(1, "config", DROP_TESTERS)]
    assert "transformations: 0 created, 1 updated, 1 unchanged" in output


def test_a_reordered_chain_is_the_files_order_and_counts_as_an_update(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    changed = document()
    changed["destinations"][0]["transformations"] = ["Drop testers", "Tag"]
    changed["sources"][0]["transformations"] = []

    output = import_text(json.dumps(changed), tmp_path)

    assert chain(Destination.objects.get(name="Metronome billing")) == ["Drop testers", "Tag"]
    assert chain(Source.objects.get(name="Web")) == []
    assert "sources: 0 created, 1 updated, 0 unchanged" in output
    assert "destinations: 0 created, 1 updated, 0 unchanged" in output


def test_a_chain_the_file_leaves_out_is_kept(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    older = document()
    del older["transformations"]
    del older["sources"][0]["transformations"]
    del older["destinations"][0]["transformations"]

    output = import_text(json.dumps(older), tmp_path)

    assert chain(Destination.objects.get(name="Metronome billing")) == ["Tag", "Drop testers"]
    assert chain(Source.objects.get(name="Web")) == ["Drop testers"]
    assert "destinations: 0 created, 0 updated, 1 unchanged" in output


def test_a_chain_may_name_a_transformation_that_is_only_in_the_database(db, tmp_path):
    create_transformation("Tag", TAG, "ada")
    written = metronome_document()
    written["destinations"][0]["transformations"] = ["Tag"]

    import_text(json.dumps(written), tmp_path)

    assert chain(Destination.objects.get(name="Metronome billing")) == ["Tag"]
    assert versions("Tag") == [(1, "ada", TAG)]


# Refused documents


def refused(written: dict[str, Any], tmp_path) -> str:
    with pytest.raises(CommandError, match="nothing was imported") as error:
        import_text(json.dumps(written), tmp_path)
    return str(error.value)


def test_a_script_that_cannot_load_refuses_the_whole_import_with_its_name_and_line(db, tmp_path):
    written = document()
    written["transformations"][1]["code"] = BROKEN

    message = refused(written, tmp_path)

    assert "transformations[1].code: transformation 'Drop testers' cannot load: " in message
    assert "SyntaxError" in message
    assert "(line 2)" in message
    assert not Transformation.objects.exists()
    assert not Source.objects.exists()
    assert not Destination.objects.exists()


def test_broken_new_code_for_an_existing_transformation_changes_nothing(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    written = document()
    written["destinations"][0]["transformations"] = ["Drop testers"]
    written["transformations"][0]["code"] = "export function transformEvent(event) {\n"

    message = refused(written, tmp_path)

    assert "transformations[0].code: transformation 'Tag' cannot load: " in message
    assert "(line " in message
    assert versions("Tag") == [(1, "config", TAG)]
    assert chain(Destination.objects.get(name="Metronome billing")) == ["Tag", "Drop testers"]


def test_code_without_transform_event_is_refused(db, tmp_path):
    written = document()
    written["transformations"][0]["code"] = "function transform(event) { return event; }"

    message = refused(written, tmp_path)

    assert "transformations[0].code: transformation 'Tag' cannot load: " in message
    assert "transformEvent" in message


@pytest.mark.parametrize("owner", ["destinations", "sources"])
def test_an_unknown_transformation_name_is_refused_with_its_path(db, tmp_path, owner):
    written = document()
    written[owner][0]["transformations"] = ["Tag", "Scrub emails"]

    message = refused(written, tmp_path)

    assert message.startswith(
        f"{owner}[0].transformations[1]: no transformation is called 'Scrub emails'"
    )
    assert not Transformation.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["destinations"][0].update(transformations=["Tag", "Tag"]),
            "destinations[0].transformations[1]: 'Tag' is also destinations[0].transformations[0]",
        ),
        (
            lambda d: d["sources"][0].update(transformations="Tag"),
            "sources[0].transformations: expected an array",
        ),
        (
            lambda d: d["sources"][0].update(transformations=[{"name": "Tag"}]),
            "sources[0].transformations[0]: expected a transformation name",
        ),
        (lambda d: d["transformations"][0].pop("code"), "transformations[0].code: required"),
        (
            lambda d: d["transformations"][0].update(code=["line"]),
            "transformations[0].code: expected a string",
        ),
        (
            lambda d: d["transformations"][0].update(version=2),
            "transformations[0]: unknown key 'version'",
        ),
        (
            lambda d: d["transformations"][1].update(name="Tag"),
            "transformations[1].name: 'Tag' is also transformations[0]",
        ),
        (
            lambda d: d["transformations"][0].update(name=""),
            "transformations[0].name: This field cannot be blank.",
        ),
        (lambda d: d.update(transformations={}), "transformations: expected an array"),
    ],
)
def test_an_invalid_transformation_entry_is_reported_with_its_path(db, tmp_path, change, message):
    written = document()
    change(written)

    assert message in refused(written, tmp_path)
    assert not Transformation.objects.exists()


# Pruning


def test_prune_deletes_the_transformations_the_section_does_not_list(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    create_transformation("Unused", TAG)
    written = document()
    del written["transformations"][1]
    written["sources"][0]["transformations"] = []
    written["destinations"][0]["transformations"] = ["Tag"]

    kept = import_text(json.dumps(written), tmp_path)
    assert Transformation.objects.filter(name="Unused").exists()
    pruned = import_text(json.dumps(written), tmp_path, "--prune")

    assert list(Transformation.objects.values_list("name", flat=True)) == ["Tag"]
    assert "transformations: 0 created, 0 updated, 1 unchanged\n" in kept
    assert "transformations: 0 created, 0 updated, 1 unchanged, 2 removed" in pruned


def test_prune_refuses_to_delete_a_transformation_a_source_still_runs(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    mobile = Source.objects.create(name="Mobile")
    set_source_chain(mobile, [Transformation.objects.get(name="Drop testers")])
    written = document()
    del written["transformations"][1]
    written["sources"][0]["transformations"] = []
    written["destinations"][0]["transformations"] = ["Tag"]

    with pytest.raises(CommandError, match="nothing was imported") as error:
        import_text(json.dumps(written), tmp_path, "--prune")

    assert (
        "transformations: 'Drop testers' is not in the file, but source 'Mobile' still runs it"
        in str(error.value)
    )
    assert chain(Destination.objects.get(name="Metronome billing")) == ["Tag", "Drop testers"]
    assert Transformation.objects.filter(name="Drop testers").exists()


def test_prune_without_a_transformations_section_deletes_no_transformation(db, tmp_path):
    create_transformation("Tag", TAG)
    written = metronome_document()

    output = import_text(json.dumps(written), tmp_path, "--prune")

    assert Transformation.objects.filter(name="Tag").exists()
    assert "transformations: 0 created, 0 updated, 0 unchanged" in output


# Export


@pytest.fixture
def chained(configured) -> None:
    """configured, with the billing destination running two transformations (one at v2), the
    iOS source one, Web none."""
    tag = create_transformation("Tag", TAG, "ada", "Marks every event")
    save_code(tag, TAG.replace("true", '"yes"'), "grace")
    testers = create_transformation("Drop testers", DROP_TESTERS)
    set_destination_chain(Destination.objects.get(name="Metronome billing"), [tag, testers])
    set_source_chain(Source.objects.get(name="iOS app"), [testers])


def test_export_writes_the_chains_in_order_and_the_current_code_as_it_is(chained):
    document = json.loads(export())

    assert document["transformations"] == [
        {"name": "Drop testers", "description": "", "code": DROP_TESTERS},
        {"name": "Tag", "description": "Marks every event", "code": TAG.replace("true", '"yes"')},
    ]
    billing, staging = document["destinations"]
    assert billing["transformations"] == ["Tag", "Drop testers"]
    assert staging["transformations"] == []
    assert list(billing)[-2:] == ["transformations", "mappings"]
    ios, web = document["sources"][1], document["sources"][0]
    assert ios["transformations"] == ["Drop testers"]
    assert web["transformations"] == []
    assert list(document)[-1] == "transformations"


def test_export_then_import_on_an_empty_database_exports_the_same_document(
    chained, tmp_path, monkeypatch
):
    text = export()
    set_exported_variables(monkeypatch)
    empty_the_database()
    Transformation.objects.all().delete()

    output = import_text(text, tmp_path)

    assert export() == text
    assert "transformations: 2 created, 0 updated, 0 unchanged" in output
    assert versions("Tag") == [(1, "config", TAG.replace("true", '"yes"'))]


def test_importing_the_export_into_the_same_database_saves_no_version(
    chained, tmp_path, monkeypatch
):
    set_exported_variables(monkeypatch)
    text = export()

    with CaptureQueriesContext(connection) as queries:
        output = import_text(text, tmp_path, "--prune")

    assert writes(queries) == []
    assert [number for number, *_ in versions("Tag")] == [2, 1]
    assert export() == text
    assert "transformations: 0 created, 0 updated, 2 unchanged" in output
