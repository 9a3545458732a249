"""The document's "transformations" section, and the `transformations` chain of its sources
and destinations.

A transformation is named by its `name`, carries its JavaScript inline in `code` (the current
version's text, exactly) and an optional `description`. Importing code that differs from the
current version saves a new version, by AUTHOR; the same code saves none. Code that cannot load
stops the import, naming the transformation and the line.

A source or a destination lists, under `transformations`, the names of the transformations its
events go through, in the order they run: transformations of the document or of the database.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from destinations.models import DestinationTransformation, SourceTransformation, Transformation
from destinations.services.transformations import check_code, create_transformation, save_code

from .document import (
    REQUIRED,
    TRANSFORMATION_KEYS,
    ConfigurationError,
    at,
    named_items,
    take,
)
from .saving import located, save_if_changed

SECTION = "transformations"
# The versions an import saves are by this author, so the history tells them from the admin's.
AUTHOR = "config"


def export_transformations() -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "code": t.code}
        for t in Transformation.objects.select_related("current_version").order_by("name")
    ]


def chain_names(links: Iterable[SourceTransformation | DestinationTransformation]) -> list[str]:
    """The names of a prefetched `transformation_links`, in the order they run."""
    return [link.transformation.name for link in links]


def import_transformations(document: dict, counts: Counter[str]) -> set[str]:
    """Upsert the section's transformations by name; returns the names it lists."""
    listed: set[str] = set()
    for path, item in named_items(document, SECTION, TRANSFORMATION_KEYS, ""):
        listed.add(item["name"])
        counts[_import_transformation(item, path)] += 1
    return listed


def _import_transformation(item: dict, path: str) -> str:
    name = item["name"]
    description = take(item, "description", "a string", "", path)
    code = take(item, "code", "a string", REQUIRED, path)
    query = Transformation.objects.select_related("current_version")
    transformation = query.filter(name=name).first()
    if transformation is None:
        _check(name, code, path)
        try:
            create_transformation(name, code, AUTHOR, description)
        except ValidationError as error:
            raise located(error, path) from None
        return "created"
    outcome = save_if_changed(transformation, {"description": description}, path)
    # Compared first so that unchanged code neither loads a sandbox nor locks the row.
    if code != transformation.code:
        _check(name, code, path)
        save_code(transformation, code, AUTHOR)
        outcome = "updated"
    return outcome


def _check(name: str, code: str, path: str) -> None:
    try:
        check_code(code)
    except ValidationError as error:
        problem = " ".join(error.messages)
        raise ConfigurationError(
            f"{path}.code: transformation {name!r} cannot load: {problem}"
        ) from None


def import_chain(
    owner: models.Model,
    item: dict,
    path: str,
    apply: Callable[[Any, Sequence[Transformation]], None],
) -> bool:
    """Give `owner` (a source or a destination) the chain the item lists, through `apply`;
    says whether it changed. An item without the key keeps its chain: a file written before
    transformations existed must not take a PII filter off a destination."""
    if SECTION not in item:
        return False
    chain = _chain(take(item, SECTION, "an array", REQUIRED, path), at(path, SECTION))
    current = owner.transformation_links.values_list("transformation_id", flat=True)
    if list(current) == [transformation.pk for transformation in chain]:
        return False
    apply(owner, chain)
    return True


def _chain(names: list, path: str) -> list[Transformation]:
    first_seen: dict[str, str] = {}
    for index, name in enumerate(names):
        if not isinstance(name, str):
            raise ConfigurationError(f"{path}[{index}]: expected a transformation name")
        if name in first_seen:
            # A chain runs a transformation once: the links' unique constraint would fail later.
            raise ConfigurationError(f"{path}[{index}]: {name!r} is also {first_seen[name]}")
        first_seen[name] = f"{path}[{index}]"
    found = {t.name: t for t in Transformation.objects.filter(name__in=names)}
    for index, name in enumerate(names):
        if name not in found:
            raise ConfigurationError(f"{path}[{index}]: no transformation is called {name!r}")
    return [found[name] for name in names]


def prune_transformations(listed: set[str], counts: Counter[str]) -> None:
    """Delete the transformations the section does not list, with their versions. One that a
    source or destination still runs stops the import instead: deleting it would let events
    through untransformed, and the models protect it anyway."""
    unlisted = Transformation.objects.exclude(name__in=listed)
    runs = [
        (f"source '{link.source.name}'", link.transformation.name)
        for link in SourceTransformation.objects.filter(transformation__in=unlisted)
        .select_related("source", "transformation")
        .order_by("transformation__name", "source__name")
    ]
    runs += [
        (f"destination '{link.destination.name}'", link.transformation.name)
        for link in DestinationTransformation.objects.filter(transformation__in=unlisted)
        .select_related("destination", "transformation")
        .order_by("transformation__name", "destination__name")
    ]
    if runs:
        user, name = runs[0]
        raise ConfigurationError(
            f"{SECTION}: {name!r} is not in the file, but {user} still runs it: list it, or "
            "take it out of that chain"
        )
    _, deleted = unlisted.delete()
    counts["removed"] += deleted.get(Transformation._meta.label, 0)
