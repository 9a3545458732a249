"""The document's "table_sources" section: exporting and importing tables.models.TableSource.

A table source is named by its `name`, reads into the source named by `source` (one of the
document's sources, or one already in the database), and connects with the URL held by the
variable of its `connection` reference, never written in the file. The other keys are the
model's plain columns (TABLE_SOURCE_COLUMNS).
"""

from collections import Counter
from collections.abc import Mapping
from typing import Any

from infra import encryption
from ingest.models import Source
from tables.connectors import connector_for
from tables.models import TableSource

from .document import (
    ENV,
    REQUIRED,
    TABLE_SOURCE_COLUMNS,
    TABLE_SOURCE_KEYS,
    ConfigurationError,
    claim,
    env_name,
    env_reference,
    named_items,
    take,
)
from .saving import save_if_changed

SECTION = "table_sources"


def connection_variable(name: str) -> str:
    return env_name("TABLE_SOURCE", name, "URL")


def export_table_sources(claimed: dict[str, str]) -> list[dict[str, Any]]:
    return [
        _export_table_source(table_source, claimed)
        for table_source in TableSource.objects.select_related("source").order_by("name")
    ]


def _export_table_source(table_source: TableSource, claimed: dict[str, str]) -> dict[str, Any]:
    owner = f"the connection of table source '{table_source.name}'"
    return {
        "name": table_source.name,
        "source": table_source.source.name,
        "connection": claim(connection_variable(table_source.name), owner, claimed),
        **{key: getattr(table_source, key) for key in TABLE_SOURCE_COLUMNS},
    }


def import_table_sources(
    document: dict, environ: Mapping[str, str], prune: bool, counts: Counter[str]
) -> None:
    """Upsert the section's table sources by name; with `prune`, delete those it does not list
    (with their runs and row states; their events stay). A document without the section
    leaves every table source alone, pruned or not."""
    listed: set[str] = set()
    for path, item in named_items(document, SECTION, TABLE_SOURCE_KEYS, ""):
        listed.add(item["name"])
        counts[_import_table_source(item, path, environ)] += 1
    if prune and SECTION in document:
        _, deleted = TableSource.objects.exclude(name__in=listed).delete()
        counts["removed"] += deleted.get(TableSource._meta.label, 0)


def _import_table_source(item: dict, path: str, environ: Mapping[str, str]) -> str:
    name = item["name"]
    table_source = TableSource.objects.filter(name=name).first() or TableSource(name=name)
    values = {key: take(item, key, *schema, path) for key, schema in TABLE_SOURCE_COLUMNS.items()}
    values["source_id"] = _source(take(item, "source", "a string", REQUIRED, path), path).pk
    url = _connection(table_source, item.get("connection"), f"{path}.connection", environ)
    changed = url is not None and _differs(table_source, url)
    if changed:
        table_source.set_connection_url(url)
    return save_if_changed(table_source, values, path, force=changed)


def _source(name: str, path: str) -> Source:
    source = Source.objects.filter(name=name).first()
    if source is None:
        raise ConfigurationError(f"{path}.source: no source is called {name!r}")
    return source


def _connection(
    table_source: TableSource, reference: Any, path: str, environ: Mapping[str, str]
) -> str | None:
    """The URL the reference's variable holds, checked; None keeps the stored one."""
    variable = None if reference is None else env_reference(reference, path)
    url = environ.get(variable) if variable else None
    if not url:
        if table_source._state.adding:
            problem = f"{variable} is not set" if variable else f"required, as {ENV}"
            raise ConfigurationError(f"{path}: {problem}")
        return None
    try:
        connector_for(url)
    except ValueError as error:  # names the scheme, never the rest of the URL
        raise ConfigurationError(f"{path}: the value of {variable}: {error}") from None
    return url


def _differs(table_source: TableSource, url: str) -> bool:
    """Compared decrypted: Fernet tokens differ at each encryption, the URL does not."""
    try:
        return url != table_source.connection_url
    except encryption.SecretsUnreadable:  # under a key SECRETS_KEYS lost: the file's replaces it
        return True
