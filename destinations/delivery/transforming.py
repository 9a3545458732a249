"""Transformations in the pipeline: an event's source chain runs before routing, then each
destination's chain before that destination's triggers and mappings (issue 20, RudderStack's
contract: an event in, none, one or several out).

Chains are read with the routes (every 5 s in a busy router), as the current version of each
transformation; scripts are loaded once per worker process and version and reused, since a
runtime per event would cost more than the event.
"""

import hashlib
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson
from django.conf import settings
from django.db.models import F

from infra import metrics

from .. import sandbox
from ..models import DestinationTransformation, SourceTransformation, TransformationVersion


@dataclass(frozen=True)
class Step:
    """A transformation at the version new events run."""

    version_id: int
    name: str
    number: int
    code: str
    libraries: dict[str, str] = field(default_factory=dict)  # by import name

    @property
    def label(self) -> str:
        """As error messages name it: "Redact PII v3"."""
        return f"{self.name} v{self.number}"

    @cached_property
    def key(self) -> tuple[int, str]:
        """What a loaded script is known by: its version, and its code, as an id can come
        back (SQLite reuses the highest rowid once its row is deleted)."""
        text = orjson.dumps([self.code, self.libraries], option=orjson.OPT_SORT_KEYS)
        return self.version_id, hashlib.blake2b(text, digest_size=16).hexdigest()


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
    transformation: str  # its name


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
        step = Step(
            version.pk, link.transformation.name, version.number, version.code, version.libraries
        )
        chains.setdefault(owner_id, []).append(step)
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
                loaded = sandbox.Script(step.code, limits(), step.libraries)
            except sandbox.ScriptError as error:
                loaded = error  # remembered: loading it again would fail again
        self._loaded[step.key] = loaded
        while len(self._loaded) > self.capacity:
            self._loaded.popitem(last=False)
        if isinstance(loaded, sandbox.ScriptError):
            raise loaded
        return loaded


SCRIPTS = Scripts()


class Breaker:
    """A script that overran its time or memory limit on `overruns` events in a row is not run
    for `pause_seconds` in this process: its events fail at once (TRANSFORMATION_PAUSED), to be
    replayed once the code is fixed. Without it, a script that loops on every event would hold
    the router 50 ms an event, and every source's events would queue behind it."""

    def __init__(self, overruns: int = 10, pause_seconds: float = 30.0, clock=time.monotonic):
        self.overruns = overruns
        self.pause_seconds = pause_seconds
        self.clock = clock
        self._in_a_row: Counter[tuple] = Counter()
        self._paused_until: dict[tuple, float] = {}

    def check(self, step: Step) -> None:
        until = self._paused_until.get(step.key)
        if until is None:
            return
        if (left := until - self.clock()) > 0:
            raise sandbox.TransformFailed(
                "paused",
                f"not run: it overran its limits on {self.overruns} events in a row; "
                f"it runs again in {left:.0f} s",
            )
        del self._paused_until[step.key]  # one more overrun pauses it again

    def record(self, step: Step, overran: bool) -> None:
        if not overran:
            self._in_a_row.pop(step.key, None)
            return
        self._in_a_row[step.key] += 1
        if self._in_a_row[step.key] >= self.overruns:
            self._paused_until[step.key] = self.clock() + self.pause_seconds
            self._in_a_row[step.key] = self.overruns - 1


BREAKER = Breaker()
OVERRUNS = ("timeout", "memory")


def limits() -> sandbox.Limits:
    return sandbox.Limits(
        cpu_ms=settings.TRANSFORMATION_CPU_MS,
        memory_mb=settings.TRANSFORMATION_MEMORY_MB,
        max_event_bytes=settings.INGEST_MAX_MESSAGE_BYTES,
        max_output_bytes=settings.INGEST_MAX_BATCH_BYTES,
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
            message = f"{step.label}: {error}"
            failure = Failure(code, message, applied, step.version_id, step.name)
            return Transformed([], failure)
    return Transformed([Form(payload, part, applied) for part, payload in enumerate(payloads)])


def _run_step(step: Step, payloads: list[dict], metadata: str) -> list[dict]:
    script = SCRIPTS.get(step)
    results: list[dict] = []
    size = 0
    for payload in payloads:
        BREAKER.check(step)
        try:
            output = script.transform(payload, metadata)
        except sandbox.TransformFailed as failed:
            BREAKER.record(step, failed.kind in OVERRUNS)
            raise
        BREAKER.record(step, overran=False)
        results.extend(output.events)
        size += output.size
    if len(results) > script.limits.max_events:
        raise sandbox.TransformFailed(
            "result", f"the event became {len(results)} events; at most {script.limits.max_events}"
        )
    if size > script.limits.max_output_bytes:
        raise sandbox.TransformFailed(
            "result",
            f"the event became {size:,} bytes of events; "
            f"at most {script.limits.max_output_bytes:,}",
        )
    return results


def record_failures(failed: dict[tuple[int, int], Failure], now: datetime) -> None:
    """Count the events each version failed on, (event id, version id) → failure, and keep
    the last message; in version order, so that routers side by side never deadlock."""
    if not failed:  # most chunks: no metrics round trip either
        return
    counts = Counter(version_id for _, version_id in failed)
    last = {version_id: failure.message for (_, version_id), failure in failed.items()}
    metrics.count_transformation_failures(
        Counter((failure.transformation, failure.code) for failure in failed.values())
    )
    for version_id in sorted(counts):
        TransformationVersion.objects.filter(pk=version_id).update(
            failures=F("failures") + counts[version_id],
            last_failure=last[version_id],
            last_failure_at=now,
        )
