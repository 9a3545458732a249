"""Transformation libraries in configuration files: their code inline, imported before the
transformations checked against them, a new version of each importer when one changes."""

import json
from typing import Any

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from destinations.models import Destination, Transformation, TransformationLibrary
from destinations.services.libraries import save_library
from destinations.services.transformations import create_transformation, set_destination_chain
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

MASK = """export function mask(text) {
  return text[0] + "***";
}
"""
SHORTER = """export function mask(text) {
  return "*";
}
"""
USES_MASK = """import { mask } from "piiTools";
export function transformEvent(event) {
  event.userId = mask(event.userId);
  return event;
}
"""
# Calls the library while it loads: a library without `mask` breaks it before any event.
MASKS_AT_LOAD = """import { mask } from "piiTools";
const HIDDEN = mask("secret");
export function transformEvent(event) {
  event.properties = { hidden: HIDDEN };
  return event;
}
"""
HIDE = """export function hide(text) {
  return "#";
}
"""
# Loads with MASK and with HIDE: `hide` is only called per event.
USES_HIDE = """import { hide } from "piiTools";
export function transformEvent(event) {
  event.userId = hide(event.userId);
  return event;
}
"""
PLAIN = """export function transformEvent(event) {
  return event;
}
"""
# The expression after `+` is missing: QuickJS stops at the library's line 2.
BROKEN = """export function mask(text) {
  return text[0] +;
}
"""


@pytest.fixture(autouse=True)
def token(monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)


def document(library: str = MASK, transformation: str = USES_MASK) -> dict[str, Any]:
    """metronome_document with the PII tools library and a transformation importing it."""
    written = metronome_document()
    written["transformation_libraries"] = [
        {"name": "PII tools", "description": "Masks what identifies people", "code": library}
    ]
    written["transformations"] = [{"name": "Mask", "code": transformation}]
    return written


def versions(name: str) -> list[tuple[int, str, str, dict]]:
    """The transformation's versions, newest first: number, author, code, library code."""
    transformation = Transformation.objects.get(name=name)
    return list(transformation.versions.values_list("number", "created_by", "code", "libraries"))


def current(name: str) -> tuple[str, dict]:
    version = Transformation.objects.select_related("current_version").get(name=name)
    return version.current_version.code, version.current_version.libraries


def refused(written: dict[str, Any], tmp_path, *options: str) -> str:
    with pytest.raises(CommandError, match="nothing was imported") as error:
        import_text(json.dumps(written), tmp_path, *options)
    return str(error.value)


def test_import_creates_a_library_and_a_transformation_that_imports_it(db, tmp_path):
    output = import_text(json.dumps(document()), tmp_path)

    library = TransformationLibrary.objects.get()
    assert (library.name, library.handle, library.code) == ("PII tools", "piiTools", MASK)
    assert library.description == "Masks what identifies people"
    assert versions("Mask") == [(1, "config", USES_MASK, {"piiTools": MASK})]
    assert "transformation_libraries: 1 created, 0 updated, 0 unchanged" in output
    assert "transformations: 1 created, 0 updated, 0 unchanged" in output


def test_importing_the_same_document_again_changes_nothing(db, tmp_path):
    text = json.dumps(document())
    import_text(text, tmp_path)

    with CaptureQueriesContext(connection) as queries:
        output = import_text(text, tmp_path, "--prune")

    assert writes(queries) == []
    assert versions("Mask") == [(1, "config", USES_MASK, {"piiTools": MASK})]
    assert "transformation_libraries: 0 created, 0 updated, 1 unchanged" in output
    assert "has a new version" not in output


def test_changed_library_code_publishes_a_new_version_of_its_importer(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)

    output = import_text(json.dumps(document(library=SHORTER)), tmp_path)

    assert TransformationLibrary.objects.get().code == SHORTER
    assert versions("Mask") == [
        (2, "config", USES_MASK, {"piiTools": SHORTER}),
        (1, "config", USES_MASK, {"piiTools": MASK}),
    ]
    assert "transformation_libraries: 0 created, 1 updated, 0 unchanged" in output
    assert "transformations: 0 created, 0 updated, 1 unchanged" in output
    assert "transformation 'Mask' has a new version (2) with library 'PII tools'" in output


def test_a_changed_description_saves_the_library_without_a_new_version(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    changed = document()
    changed["transformation_libraries"][0]["description"] = "Hides names"

    output = import_text(json.dumps(changed), tmp_path)

    assert TransformationLibrary.objects.get().description == "Hides names"
    assert [number for number, *_ in versions("Mask")] == [1]
    assert "transformation_libraries: 0 created, 1 updated, 0 unchanged" in output


def test_a_library_and_its_importer_changed_together_end_with_both_new(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    both = document(library=MASK + HIDE, transformation=USES_HIDE)

    output = import_text(json.dumps(both), tmp_path)

    # The library's save publishes the old code with it, then the new code is saved.
    assert [number for number, *_ in versions("Mask")] == [3, 2, 1]
    assert current("Mask") == (USES_HIDE, {"piiTools": MASK + HIDE})
    assert "transformations: 0 created, 1 updated, 0 unchanged" in output


def test_a_library_the_old_importer_cannot_load_with_waits_for_the_importers_new_code(db, tmp_path):
    import_text(json.dumps(document(transformation=MASKS_AT_LOAD)), tmp_path)

    output = import_text(json.dumps(document(library=HIDE, transformation=USES_HIDE)), tmp_path)

    assert TransformationLibrary.objects.get().code == HIDE
    assert current("Mask") == (USES_HIDE, {"piiTools": HIDE})
    # Version 2 is the new code with the old library, as the transformations section saved
    # it before the library could be.
    assert [(n, libraries) for n, _, _, libraries in versions("Mask")] == [
        (3, {"piiTools": HIDE}),
        (2, {"piiTools": MASK}),
        (1, {"piiTools": MASK}),
    ]
    assert "transformation_libraries: 0 created, 1 updated, 0 unchanged" in output
    assert "transformations: 0 created, 1 updated, 0 unchanged" in output


def test_a_library_an_unchanged_importer_cannot_load_with_is_refused_naming_both(db, tmp_path):
    import_text(json.dumps(document(transformation=MASKS_AT_LOAD)), tmp_path)

    message = refused(document(library=HIDE, transformation=MASKS_AT_LOAD), tmp_path)

    assert message.startswith(
        "transformation_libraries[0]: library 'PII tools': “Mask” would no longer load: "
        "TypeError: not a function (line 2)"
    )
    assert TransformationLibrary.objects.get().code == MASK
    assert [number for number, *_ in versions("Mask")] == [1]


def test_a_library_and_an_importer_that_each_need_the_other_are_refused_with_both_reasons(
    db, tmp_path
):
    import_text(json.dumps(document(transformation=MASKS_AT_LOAD)), tmp_path)
    hides_at_load = MASKS_AT_LOAD.replace("mask", "hide")

    message = refused(document(library=HIDE, transformation=hides_at_load), tmp_path)

    assert message.startswith(
        "transformations[0].code: transformation 'Mask' cannot load: TypeError: not a function "
        "(line 2), with the stored code of library 'PII tools': the file's was refused (“Mask” "
        "would no longer load: TypeError: not a function (line 2)); import code that loads "
        "with both first"
    )
    assert TransformationLibrary.objects.get().code == MASK
    assert current("Mask") == (MASKS_AT_LOAD, {"piiTools": MASK})


def test_a_library_that_cannot_load_refuses_the_whole_import_with_its_name_and_line(db, tmp_path):
    message = refused(document(library=BROKEN), tmp_path)

    assert message.startswith(
        "transformation_libraries[0].code: library 'PII tools' cannot load: SyntaxError"
    )
    assert "(line 2 of library piiTools)" in message
    assert not TransformationLibrary.objects.exists()
    assert not Transformation.objects.exists()
    assert not Destination.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["transformation_libraries"][0].pop("code"),
            "transformation_libraries[0].code: required",
        ),
        (
            lambda d: d["transformation_libraries"][0].update(handle="piiTools"),
            "transformation_libraries[0]: unknown key 'handle'",
        ),
        (
            lambda d: d["transformation_libraries"].append({"name": "pii-tools", "code": MASK}),
            "transformation_libraries[1]: library 'pii-tools': another library is imported "
            'as "piiTools" already',
        ),
        (
            lambda d: d["transformation_libraries"].append({"name": "PII tools", "code": MASK}),
            "transformation_libraries[1].name: 'PII tools' is also transformation_libraries[0]",
        ),
        (
            lambda d: d["transformation_libraries"][0].update(name="¿?"),
            "transformation_libraries[0]: library '¿?': the name needs a letter or a digit",
        ),
        (
            lambda d: d.update(transformation_libraries={}),
            "transformation_libraries: expected an array",
        ),
    ],
)
def test_an_invalid_library_entry_is_reported_with_its_path(db, tmp_path, change, message):
    written = document()
    change(written)

    assert refused(written, tmp_path).startswith(message)
    assert not TransformationLibrary.objects.exists()


def test_a_transformation_importing_a_library_the_file_lacks_is_refused(db, tmp_path):
    written = document()
    del written["transformation_libraries"]

    message = refused(written, tmp_path)

    assert message.startswith(
        "transformations[0].code: transformation 'Mask' cannot load: "
        'no library is imported as "piiTools" (line 1)'
    )


# Pruning


def test_prune_deletes_the_libraries_the_section_does_not_list(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    save_library("Unused", MASK)
    written = document()

    kept = import_text(json.dumps(written), tmp_path)
    pruned = import_text(json.dumps(written), tmp_path, "--prune")

    assert list(TransformationLibrary.objects.values_list("name", flat=True)) == ["PII tools"]
    assert "transformation_libraries: 0 created, 0 updated, 1 unchanged\n" in kept
    assert "transformation_libraries: 0 created, 0 updated, 1 unchanged, 1 removed" in pruned


def test_prune_refuses_to_delete_a_library_a_transformation_still_imports(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    written = document()
    written["transformation_libraries"] = []

    message = refused(written, tmp_path, "--prune")

    assert message.startswith(
        "transformation_libraries: 'PII tools' is not in the file, but transformation 'Mask' "
        "still imports it: list it, or change that transformation"
    )
    assert TransformationLibrary.objects.filter(name="PII tools").exists()


def test_prune_deletes_a_library_whose_only_importer_the_file_prunes_or_changes(db, tmp_path):
    import_text(json.dumps(document()), tmp_path)
    create_transformation("Masks too", USES_MASK)
    written = document(transformation=PLAIN)
    written["transformation_libraries"] = []

    output = import_text(json.dumps(written), tmp_path, "--prune")

    assert not TransformationLibrary.objects.exists()
    assert list(Transformation.objects.values_list("name", flat=True)) == ["Mask"]
    assert "transformation_libraries: 0 created, 0 updated, 0 unchanged, 1 removed" in output


def test_prune_without_a_libraries_section_deletes_no_library(db, tmp_path):
    save_library("PII tools", MASK)

    output = import_text(json.dumps(metronome_document()), tmp_path, "--prune")

    assert TransformationLibrary.objects.filter(name="PII tools").exists()
    assert "transformation_libraries: 0 created, 0 updated, 0 unchanged" in output


# Export


@pytest.fixture
def with_libraries(configured) -> None:
    """configured, with two libraries (one changed since) and a transformation importing one,
    run by the billing destination."""
    library, _ = save_library("PII tools", MASK, "ada", "Masks what identifies people")
    save_library("Dates", "export const epoch = 0;\n", "ada")
    masked = create_transformation("Mask", USES_MASK, "ada")
    save_library("PII tools", SHORTER, "grace", library.description, library)
    set_destination_chain(Destination.objects.get(name="Metronome billing"), [masked])


def test_export_writes_the_libraries_by_name_before_the_transformations(with_libraries):
    document = json.loads(export())

    assert document["transformation_libraries"] == [
        {"name": "Dates", "description": "", "code": "export const epoch = 0;\n"},
        {"name": "PII tools", "description": "Masks what identifies people", "code": SHORTER},
    ]
    assert list(document)[-2:] == ["transformation_libraries", "transformations"]


def test_export_then_import_on_an_empty_database_exports_the_same_document(
    with_libraries, tmp_path, monkeypatch
):
    text = export()
    set_exported_variables(monkeypatch)
    empty_the_database()
    Transformation.objects.all().delete()
    TransformationLibrary.objects.all().delete()

    output = import_text(text, tmp_path)

    assert export() == text
    assert "transformation_libraries: 2 created, 0 updated, 0 unchanged" in output
    assert versions("Mask") == [(1, "config", USES_MASK, {"piiTools": SHORTER})]
