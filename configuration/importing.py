"""Applying a configuration document: idempotent upserts by name, all or nothing."""

import json
import os
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from destinations.integrations import REGISTRY
from destinations.integrations.base import Kind, Setting
from destinations.models import Destination
from destinations.models import Mapping as MappingRow
from destinations.services.destinations import Unbound, secret_origins, unbind_secrets
from destinations.services.transformations import set_destination_chain, set_source_chain
from infra import encryption
from ingest.models import Source
from ingest.sources import WRITE_KEY_PATTERN

from .document import (
    DESTINATION_COLUMNS,
    DESTINATION_KEYS,
    DOCUMENT_KEYS,
    ENV,
    KIND_DEFAULT,
    MAPPING_COLUMNS,
    REQUIRED,
    SOURCE_KEYS,
    VERSION,
    ConfigurationError,
    env_name,
    env_reference,
    expect_object,
    is_json,
    named_items,
    take,
)
from .libraries import SECTION as LIBRARIES
from .libraries import explained, import_libraries, prune_libraries, retry_libraries
from .saving import save_if_changed
from .table_sources import import_table_sources
from .transformations import import_chain, import_transformations, prune_transformations


@dataclass
class ImportSummary:
    # section ("sources", "destinations", "mappings", "table_sources",
    # "transformation_libraries", "transformations") ->
    # "created", "updated", "unchanged", "removed" -> how many
    counts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    notes: list[str] = field(default_factory=list)


def parse_configuration(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"not a JSON document: {error}") from None


@transaction.atomic
def import_configuration(
    document: Any, *, environ: Mapping[str, str] = os.environ, prune: bool = False
) -> ImportSummary:
    """Upsert the document's items by name; the first problem rolls everything back."""
    expect_object(document, "the document", DOCUMENT_KEYS)
    if take(document, "version", "an integer", REQUIRED, "") != VERSION:
        raise ConfigurationError(f"version: expected {VERSION}")
    summary = ImportSummary()
    # First the libraries: a transformation's code is checked against them as they are in the
    # database (a library refused for an importer's old code waits for its new code).
    libraries, deferred = import_libraries(document, summary.counts[LIBRARIES], summary.notes)
    # Then the transformations: the sources' and destinations' chains name them.
    try:
        listed = import_transformations(document, summary.counts["transformations"])
    except ConfigurationError as error:
        raise explained(error, deferred) from None
    retry_libraries(deferred, summary.counts[LIBRARIES], summary.notes)
    for path, item in named_items(document, "sources", SOURCE_KEYS, ""):
        _import_source(item, path, environ, summary)
    for path, item in named_items(document, "destinations", DESTINATION_KEYS, ""):
        _import_destination(item, path, environ, prune, summary)
    # After the sources: a table source may read into one the document has just created.
    import_table_sources(document, environ, prune, summary.counts["table_sources"])
    # Last: a transformation the file has just taken out of every chain can go.
    if prune and "transformations" in document:
        prune_transformations(listed, summary.counts["transformations"])
    # After them: a library that only a pruned transformation imported can go.
    if prune and LIBRARIES in document:
        prune_libraries(libraries, summary.counts[LIBRARIES])
    return summary


def _import_source(
    item: dict, path: str, environ: Mapping[str, str], summary: ImportSummary
) -> None:
    name = item["name"]
    source = Source.objects.filter(name=name).first() or Source(name=name)
    values = {
        "enabled": take(item, "enabled", "true or false", True, path),
        "rate_limit": take(item, "rate_limit", "an integer or null", None, path),
    }
    write_key, variable = _write_key(item.get("write_key"), f"{path}.write_key", environ)
    if write_key:
        values["write_key"] = write_key
    elif variable and source._state.adding:
        summary.notes.append(f"source '{name}' got a random write key: {variable} is not set")
    outcome = save_if_changed(source, values, path)
    if import_chain(source, item, path, set_source_chain) and outcome == "unchanged":
        outcome = "updated"
    summary.counts["sources"][outcome] += 1


def _write_key(value: Any, path: str, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The write key the file asks for, if any, and the variable it names, if any."""
    if value is None or isinstance(value, str):
        write_key, variable = value, None
    else:
        variable = env_reference(value, path)
        write_key = environ.get(variable) or None
    if write_key and not WRITE_KEY_PATTERN.match(write_key):
        what = f"the value of {variable}" if variable else "a write key"
        raise ConfigurationError(
            f"{path}: {what} needs 32 to 200 URL-safe characters (A-Z a-z 0-9 - _)"
        )
    return write_key, variable


def _import_destination(
    item: dict, path: str, environ: Mapping[str, str], prune: bool, summary: ImportSummary
) -> None:
    name = item["name"]
    kind_key = take(item, "kind", "a string", REQUIRED, path)
    if (kind := REGISTRY.get(kind_key)) is None:
        raise ConfigurationError(f"{path}.kind: unknown destination kind '{kind_key}'")
    destination = Destination.objects.select_for_update().filter(name=name).first()
    if destination and destination.kind != kind_key:
        raise ConfigurationError(f"{path}.kind: '{name}' is a {destination.kind} destination")
    # Where its secrets may go before the file moves it (services.secret_origins).
    before = secret_origins(destination) if destination else None
    destination = destination or Destination(name=name, kind=kind_key)
    values = {
        key: take(
            item, key, json_type, kind.orders_per_user if default is KIND_DEFAULT else default, path
        )
        for key, (json_type, default) in DESTINATION_COLUMNS.items()
    }
    settings = take(item, "settings", "an object", {}, path)
    values["settings"] = _settings(kind, settings, f"{path}.settings")
    references = take(item, "secrets", "an object", {}, path)
    secrets = _secrets(kind, destination, references, path, environ)
    # Compared decrypted: Fernet tokens differ at each encryption, the values do not.
    secrets_changed = secrets.values != dict(destination.secrets)
    if secrets_changed:
        destination.set_secrets(secrets.values)
    outcome = save_if_changed(destination, values, path, force=secrets_changed)
    sources = _sources(take(item, "sources", "an array", [], path), f"{path}.sources")
    if {source.pk for source in sources} != set(destination.sources.values_list("pk", flat=True)):
        destination.sources.set(sources)
        outcome = "updated" if outcome == "unchanged" else outcome
    if import_chain(destination, item, path, set_destination_chain) and outcome == "unchanged":
        outcome = "updated"
    _import_mappings(destination, item, path, prune, summary.counts["mappings"])
    if before is not None and (unbound := unbind_secrets(destination, before, secrets.given)):
        outcome = "updated"
        summary.notes.append(_cleared_note(name, unbound, secrets.variables))
    summary.counts["destinations"][outcome] += 1


def _cleared_note(name: str, unbound: Unbound, variables: dict[str, str]) -> str:
    hosts = ", ".join(unbound.origins)
    unset = ", ".join(variables.get(key) or env_name(name, key) for key in unbound.secrets)
    return (
        f"destination '{name}': the stored secrets were cleared because it now sends to "
        f"{hosts}; set {unset} and import again"
    )


def _settings(kind: Kind, values: dict, path: str) -> dict[str, Any]:
    known = {setting.key: setting for setting in kind.all_settings}
    for key, value in values.items():
        if (setting := known.get(key)) is None:
            raise ConfigurationError(f"{path}.{key}: {kind.name} has no such setting")
        if setting.secret:
            raise ConfigurationError(f"{path}.{key}: a secret, so it goes under secrets as {ENV}")
        if problem := _setting_problem(setting, value):
            raise ConfigurationError(f"{path}.{key}: expected {problem}")
    for setting in kind.all_settings:
        unset = values.get(setting.key) in (None, "") and setting.default is None
        if unset and setting.required and not setting.secret:
            raise ConfigurationError(f"{path}.{setting.key}: required")
    return values


def _setting_problem(setting: Setting, value: Any) -> str | None:
    if setting.type == "choice":
        return None if value in setting.choices else f"one of {list(setting.choices)}"
    expected = {"boolean": "true or false", "number": "a number"}.get(setting.type, "a string")
    return None if is_json(value, expected) else expected


@dataclass(frozen=True)
class ImportedSecrets:
    values: dict[str, str]  # the stored secrets, with each set variable's value over them
    given: dict[str, str]  # the set variables' values, by secret key
    variables: dict[str, str]  # the variables the file names, by secret key


def _secrets(
    kind: Kind, destination: Destination, references: dict, path: str, environ: Mapping[str, str]
) -> ImportedSecrets:
    secret_keys = {setting.key for setting in kind.all_settings if setting.secret}
    try:
        resolved = dict(destination.secrets)
    except encryption.SecretsUnreadable as error:
        raise ConfigurationError(f"{path}.secrets: {error}") from None
    variables: dict[str, str] = {}
    given: dict[str, str] = {}
    for key, reference in references.items():
        if key not in secret_keys:
            raise ConfigurationError(f"{path}.secrets.{key}: {kind.name} has no such secret")
        variables[key] = env_reference(reference, f"{path}.secrets.{key}")
        if value := environ.get(variables[key]):
            given[key] = value
    resolved |= given
    for setting in kind.all_settings:
        if setting.secret and setting.required and not resolved.get(setting.key):
            missing = f"{variables[setting.key]} is not set" if setting.key in variables else ""
            problem = missing or f"required, as {ENV}"
            raise ConfigurationError(f"{path}.secrets.{setting.key}: {problem}")
    return ImportedSecrets(resolved, given, variables)


def _sources(names: list, path: str) -> list[Source]:
    for index, name in enumerate(names):
        if not isinstance(name, str):
            raise ConfigurationError(f"{path}[{index}]: expected a source name")
    found = {source.name: source for source in Source.objects.filter(name__in=names)}
    for index, name in enumerate(names):
        if name not in found:
            raise ConfigurationError(f"{path}[{index}]: no source is called {name!r}")
    return [found[name] for name in names]


def _import_mappings(
    destination: Destination, item: dict, path: str, prune: bool, counts: Counter[str]
) -> None:
    stored = {mapping.name: mapping for mapping in destination.mappings.all()}
    for at, entry in named_items(item, "mappings", set(MAPPING_COLUMNS), path):
        mapping = stored.pop(entry["name"], None)
        mapping = mapping or MappingRow(destination=destination, name=entry["name"])
        values = {key: take(entry, key, *schema, at) for key, schema in MAPPING_COLUMNS.items()}
        counts[save_if_changed(mapping, values, at)] += 1
    if prune and stored:
        destination.mappings.filter(pk__in=[mapping.pk for mapping in stored.values()]).delete()
        counts["removed"] += len(stored)
