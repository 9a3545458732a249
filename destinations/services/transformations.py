"""Transformations' services: writing code (a new version each time it changes), attaching
transformations in order, and trying code on an event without delivering anything."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from ingest.models import Source

from .. import sandbox
from ..delivery.decisions import Route, decide
from ..delivery.routing import leg_metadata
from ..delivery.transforming import limits
from ..models import (
    Destination,
    DestinationTransformation,
    SourceTransformation,
    Transformation,
    TransformationLibrary,
    TransformationVersion,
)


def check_code(code: str) -> None:
    """ValidationError, with the line, when `code` cannot run as a transformation."""
    loaded(code)


def loaded(code: str) -> sandbox.Script:
    """`code` loaded with the libraries as they are now; ValidationError when it cannot."""
    try:
        return sandbox.Script(code, limits(), current_libraries())
    except sandbox.ScriptError as error:
        raise ValidationError(str(error)) from None


def current_libraries() -> dict[str, str]:
    """Each library's code by the name transformations import it as."""
    return {library.handle: library.code for library in TransformationLibrary.objects.all()}


@transaction.atomic
def create_transformation(
    name: str, code: str, author: str = "", description: str = ""
) -> Transformation:
    transformation = Transformation(name=name, description=description)
    transformation.full_clean(exclude=["current_version"])
    transformation.save()
    save_code(transformation, code, author)
    return transformation


@transaction.atomic
def save_code(transformation: Transformation, code: str, author: str = "") -> bool:
    """Make `code`, with the libraries it imports as they are now, the current version,
    unless it is already; returns whether a version was added. New events and replays run
    the current version from the router's next run."""
    script = loaded(code)
    imported = {handle: script.libraries[handle] for handle in script.imported}
    locked = Transformation.objects.select_for_update().get(pk=transformation.pk)
    current = locked.current_version
    if current and current.code == code and current.libraries == imported:
        return False
    last = locked.versions.aggregate(last=Max("number"))["last"] or 0
    version = TransformationVersion.objects.create(
        transformation=locked, number=last + 1, code=code, created_by=author, libraries=imported
    )
    Transformation.objects.filter(pk=locked.pk).update(current_version=version)
    transformation.current_version = version
    return True


def set_destination_chain(destination: Destination, chain: Sequence[Transformation]) -> None:
    """The transformations the destination's events go through, in this order."""
    _set_chain(DestinationTransformation, "destination", destination, chain)


def set_source_chain(source: Source, chain: Sequence[Transformation]) -> None:
    """The transformations the source's events go through before routing, in this order."""
    _set_chain(SourceTransformation, "source", source, chain)


@transaction.atomic
def _set_chain(link, owner_field: str, owner, chain: Sequence[Transformation]) -> None:
    link.objects.filter(**{owner_field: owner}).delete()
    link.objects.bulk_create(
        link(**{owner_field: owner}, transformation=t, position=n) for n, t in enumerate(chain)
    )


@dataclass
class MappedForm:
    """What one mapping of the destination makes of an output event."""

    mapping: str
    taken: bool
    payload: dict[str, Any] | None = None
    problem: str = ""


@dataclass
class Trial:
    """Code tried on one event: what came out, what it logged, how long it took."""

    events: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    error: str = ""
    # Per output event, what each of the destination's enabled mappings would send.
    mapped: list[list[MappedForm]] = field(default_factory=list)


def try_code(
    code: str,
    event: dict[str, Any],
    source: Source | None = None,
    destination: Destination | None = None,
) -> Trial:
    """Run `code` on `event` in a fresh sandbox, with the metadata the source and destination
    would give; map the result with the destination's mappings. Nothing is stored or sent."""
    try:
        script = sandbox.Script(code, limits(), current_libraries())
    except sandbox.ScriptError as error:
        return Trial(error=str(error))
    try:
        output = script.transform(event, leg_metadata(source, destination))
    except sandbox.TransformFailed as error:
        return Trial(logs=script.logs(), error=str(error))
    trial = Trial(output.events, script.logs(), output.elapsed_ms)
    if destination is not None:
        trial.mapped = [map_form(destination, form) for form in output.events]
    return trial


def map_form(destination: Destination, form: dict[str, Any]) -> list[MappedForm]:
    results = []
    for mapping in destination.mappings.filter(enabled=True):
        decision = decide(Route.of(mapping), form)
        result = MappedForm(mapping.name, taken=not decision.skipped, payload=decision.payload)
        if problem := decision.problem:
            result.problem = f"{problem.code}: {problem.message}"
        results.append(result)
    return results
