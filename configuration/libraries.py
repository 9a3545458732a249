"""The document's "transformation_libraries" section: code that transformations import
(`import { mask } from "piiTools"`, the library's name in camelCase), inline.

A library is named by its `name` and carries its JavaScript in `code` and an optional
`description`. Importing other code or another description saves it through save_library, by
AUTHOR, which gives each transformation importing it a new version with the new code; the same
code and description write nothing. Code that cannot load stops the import, naming the library
and the line.

Order. A transformation's code is checked against the libraries as they are in the database,
so the libraries are imported before the transformations. When the file changes a library and
a transformation that imports it, the library's save publishes the transformation's current
code with the new library, then the transformations section saves its new code: two versions,
each of which loads.

One change needs the other order: new library code with which an importer's current code no
longer loads (it uses at load time what the library drops or changes), while the file also
gives that importer new code. save_library refuses it; such a library is tried again once the
transformations section is imported (its new code then has to load with the old library, and
is published again with the new one). Still refused, each side needs the other: the import
stops, naming the library and the transformation; import the transformation's code that loads
with both first, then the library. Retrying on that refusal only, rather than finding the one
order that works, keeps the common case to one plain pass.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from destinations.models import Transformation, TransformationLibrary
from destinations.models.transformations import import_name
from destinations.services.libraries import check_library, delete_library, importers, save_library

from .document import (
    LIBRARY_KEYS,
    REQUIRED,
    TRANSFORMATION_KEYS,
    ConfigurationError,
    named_items,
    take,
)
from .saving import located
from .transformations import AUTHOR
from .transformations import SECTION as TRANSFORMATIONS

SECTION = "transformation_libraries"


@dataclass
class Deferred:
    """A library save_library refused, to try again after the transformations section."""

    path: str
    name: str
    code: str
    description: str
    library: TransformationLibrary
    reason: str  # save_library's refusal
    importers: list[str]  # the paths of the transformations the file gives new code


def export_libraries() -> list[dict[str, Any]]:
    return [
        {"name": library.name, "description": library.description, "code": library.code}
        for library in TransformationLibrary.objects.order_by("name")
    ]


def import_libraries(
    document: dict, counts: Counter[str], notes: list[str]
) -> tuple[set[str], list[Deferred]]:
    """Upsert the section's libraries by name; returns the names it lists and the libraries
    to try again once the transformations are imported (see the module docstring)."""
    listed: set[str] = set()
    deferred: list[Deferred] = []
    for path, item in named_items(document, SECTION, LIBRARY_KEYS, ""):
        name = item["name"]
        listed.add(name)
        description = take(item, "description", "a string", "", path)
        code = take(item, "code", "a string", REQUIRED, path)
        library = TransformationLibrary.objects.filter(name=name).first()
        if library and library.code == code and library.description == description:
            counts["unchanged"] += 1
            continue
        new_code = library is None or code != library.code
        if new_code and (handle := import_name(name)):
            _check(handle, name, code, path)
        try:
            counts[_save(name, code, description, library, notes)] += 1
        except ValidationError as error:
            # Found by name, a stored library keeps its import name: with its code checked,
            # what is refused is an importer (or the row), and waiting may help the former.
            if not (library and new_code and (paths := _changed(library, document))):
                raise located(error, path, f"library {name!r}: ") from None
            reason = " ".join(error.messages)
            deferred.append(Deferred(path, name, code, description, library, reason, paths))
    return listed, deferred


def retry_libraries(deferred: list[Deferred], counts: Counter[str], notes: list[str]) -> None:
    """Save the libraries import_libraries deferred, now that the importers' new code is in."""
    for waiting in deferred:
        library = TransformationLibrary.objects.get(pk=waiting.library.pk)
        try:
            counts[_save(waiting.name, waiting.code, waiting.description, library, notes)] += 1
        except ValidationError as error:
            subject = f"library {waiting.name!r} (tried again after the {TRANSFORMATIONS}): "
            raise located(error, waiting.path, subject) from None


def _save(
    name: str,
    code: str,
    description: str,
    library: TransformationLibrary | None,
    notes: list[str],
) -> str:
    # A savepoint: a library refused here may be tried again in the same transaction.
    with transaction.atomic():
        _, published = save_library(name, code, AUTHOR, description, library)
    # The counts say what the file changed; these say what else changed with it.
    notes.extend(
        f"transformation {t.name!r} has a new version ({t.current_version.number}) with "
        f"library {name!r}"
        for t in published
    )
    return "created" if library is None else "updated"


def _changed(library: TransformationLibrary, document: dict) -> list[str]:
    """The paths of the library's importers that the file gives new code: when its new code
    was refused, one of them may be what no longer loads, and its new code may."""
    current = {t.name: t.code for t in importers(library.handle)}
    return [
        path
        for path, item in named_items(document, TRANSFORMATIONS, TRANSFORMATION_KEYS, "")
        if item["name"] in current and item.get("code") != current[item["name"]]
    ]


def explained(error: ConfigurationError, deferred: list[Deferred]) -> ConfigurationError:
    """An importer's new code that cannot load with a deferred library's stored code: without
    a word, the error would blame code that loads with the file's library."""
    for waiting in deferred:
        if any(str(error).startswith(f"{path}.") for path in waiting.importers):
            return ConfigurationError(
                f"{error}, with the stored code of library {waiting.name!r}: the file's was "
                f"refused ({waiting.reason}); import code that loads with both first"
            )
    return error


def _check(handle: str, name: str, code: str, path: str) -> None:
    try:
        check_library(handle, code)
    except ValidationError as error:
        problem = " ".join(error.messages)
        raise ConfigurationError(f"{path}.code: library {name!r} cannot load: {problem}") from None


def prune_libraries(listed: set[str], counts: Counter[str]) -> None:
    """Delete the libraries the section does not list. One that a transformation still
    imports, once the file's transformations are in (and pruned), stops the import instead:
    deleting it would leave that transformation's code unable to load at its next save."""
    unlisted = list(TransformationLibrary.objects.exclude(name__in=listed).order_by("name"))
    for library in unlisted:
        users: list[Transformation] = list(importers(library.handle))
        if users:
            raise ConfigurationError(
                f"{SECTION}: {library.name!r} is not in the file, but transformation "
                f"{users[0].name!r} still imports it: list it, or change that transformation"
            )
    for library in unlisted:
        delete_library(library)
    counts["removed"] += len(unlisted)
