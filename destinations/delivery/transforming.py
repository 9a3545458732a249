"""Transformations in the pipeline: an event's source chain runs before routing, then each
destination's chain before that destination's triggers and mappings (SPEC-free, RudderStack's
contract: an event in, none, one or several out).

Chains are read with the routes, once per router run, as the current version of each
transformation; scripts are loaded once per worker process and version and reused, since a
runtime per event would cost more than the event.
"""

import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson
from django.conf import settings
from django.db.models import F

from .. import sandbox
from ..models import DestinationTransformation, SourceTransformation, TransformationVersion


@dataclass(frozen=True)
class Step:
    """A transformation at the version new events run."""

    version_id: int
    label: str  # "Redact PII v3", for error messages
    code: str

    @cached_property
    def key(self) -> tuple[int, str]:
        """What a loaded script is known by: its version, and its code, as an id can come
        back (SQLite reuses the highest rowid once its row is deleted)."""
        return self.version_id, hashlib.blake2b(self.code.encode(), digest_size=16).hexdigest()


Chain = tuple[Step, ...]


@dataclass(frozen=True)
class Form:
    """An event as a destination's triggers and mappings see it: transformed or not."""

    payload: dict[str, Any]
    part: int = 0
    transformed_by: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Failure:
    """A transformation failed on the event: each mapping of the destination records it."""

    code: str
    message: str
    transformed_by: tuple[int, ...]
    version_id: int  # the step that failed


@dataclass(frozen=True)
class Transformed:
    """What became of an event: its forms (none when a transformation dropped it), or why
    there are none."""

    forms: list[Form]
    failure: Failure | None = None

    @classmethod
    def untouched(cls, payload: dict[str, Any]) -> "Transformed":
        return cls([Form(payload)])


def source_chains() -> dict[int, Chain]:
    links = SourceTransformation.objects.select_related("transformation__current_version")
    return _chains((link.source_id, link) for link in links.order_by("source", "position", "pk"))


def destination_chains() -> dict[int, Chain]:
    links = DestinationTransformation.objects.select_related("transformation__current_version")
    return _chains(
        (link.destination_id, link) for link in links.order_by("destination", "position", "pk")
    )


def _chains(links) -> dict[int, Chain]:
    chains: dict[int, list[Step]] = {}
    for owner_id, link in links:
        version = link.transformation.current_version
        if version is None:  # a transformation saved without code runs as the identity
            continue
        label = f"{link.transformation.name} v{version.number}"
        chains.setdefault(owner_id, []).append(Step(version.pk, label, version.code))
    return {owner_id: tuple(steps) for owner_id, steps in chains.items()}


class Scripts:
    """The loaded scripts of this process, by version and code, the least recently used
    dropped first."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._loaded: OrderedDict[tuple, sandbox.Script | sandbox.ScriptError] = OrderedDict()

    def get(self, step: Step) -> sandbox.Script:
        loaded = self._loaded.pop(step.key, None)
        if loaded is None:
            try:
                loaded = sandbox.Script(step.code, limits())
            except sandbox.ScriptError as error:
                loaded = error  # remembered: loading it again would fail again
        self._loaded[step.key] = loaded
        while len(self._loaded) > self.capacity:
            self._loaded.popitem(last=False)
        if isinstance(loaded, sandbox.ScriptError):
            raise loaded
        return loaded


SCRIPTS = Scripts()


def limits() -> sandbox.Limits:
    return sandbox.Limits(
        cpu_ms=settings.TRANSFORMATION_CPU_MS, memory_mb=settings.TRANSFORMATION_MEMORY_MB
    )


def run_chain(chain: Chain, given: Transformed, metadata: str | dict[str, Any]) -> Transformed:
    """The forms `given`'s forms take through `chain`, numbered anew, or the failure.
    `metadata` is what metadata(event) gives the scripts, messageId apart."""
    if not chain or given.failure or not given.forms:
        return given
    if not isinstance(metadata, str):
        metadata = orjson.dumps(metadata).decode()
    applied = (given.forms[0].transformed_by or ()) + tuple(step.version_id for step in chain)
    payloads = [form.payload for form in given.forms]
    for step in chain:
        try:
            payloads = _run_step(step, payloads, metadata)
        except (sandbox.ScriptError, sandbox.TransformFailed) as error:
            code = "TRANSFORMATION_" + getattr(error, "kind", "script").upper()
            failure = Failure(code, f"{step.label}: {error}", applied, step.version_id)
            return Transformed([], failure)
    return Transformed([Form(payload, part, applied) for part, payload in enumerate(payloads)])


def _run_step(step: Step, payloads: list[dict], metadata: str) -> list[dict]:
    script = SCRIPTS.get(step)
    results: list[dict] = []
    for payload in payloads:
        results.extend(script.transform(payload, metadata).events)
    if len(results) > script.limits.max_events:
        raise sandbox.TransformFailed(
            "result", f"the event became {len(results)} events; at most {script.limits.max_events}"
        )
    return results


def record_failures(failed: dict[tuple[int, int], Failure], now: datetime) -> None:
    """Count the events each version failed on, (event id, version id) → failure, and keep
    the last message; in version order, so that routers side by side never deadlock."""
    counts = Counter(version_id for _, version_id in failed)
    last = {version_id: failure.message for (_, version_id), failure in failed.items()}
    for version_id in sorted(counts):
        TransformationVersion.objects.filter(pk=version_id).update(
            failures=F("failures") + counts[version_id],
            last_failure=last[version_id],
            last_failure_at=now,
        )
