"""Writing the configuration document (see the package docstring for its format)."""

import json
from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch

from destinations.integrations import REGISTRY
from destinations.models import Destination
from destinations.models import Mapping as MappingRow
from ingest.models import Source

from .document import (
    DESTINATION_COLUMNS,
    MAPPING_COLUMNS,
    VERSION,
    ConfigurationError,
    claim,
    env_name,
)
from .libraries import export_libraries
from .table_sources import export_table_sources
from .transformations import chain_names, export_transformations


def export_configuration(*, include_write_keys: bool = False) -> dict[str, Any]:
    claimed: dict[str, str] = {}  # variable -> what it holds: two secrets must never share one
    chains = "transformation_links__transformation"
    sources = [
        _export_source(source, include_write_keys, claimed)
        for source in Source.objects.order_by("name").prefetch_related(chains)
    ]
    destinations = Destination.objects.order_by("name").prefetch_related(
        "sources", chains, Prefetch("mappings", queryset=MappingRow.objects.order_by("name"))
    )
    return {
        "version": VERSION,
        "sources": sources,
        "destinations": [_export_destination(d, claimed) for d in destinations],
        "table_sources": export_table_sources(claimed),
        # Before the transformations, in the order import applies them.
        "transformation_libraries": export_libraries(),
        "transformations": export_transformations(),
    }


def render_configuration(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _export_source(source: Source, in_clear: bool, claimed: dict[str, str]) -> dict[str, Any]:
    write_key: Any = source.write_key
    if not in_clear:
        variable = env_name("SOURCE", source.name, "WRITE_KEY")
        write_key = claim(variable, f"the write key of source '{source.name}'", claimed)
    return {
        "name": source.name,
        "enabled": source.enabled,
        "rate_limit": source.rate_limit,
        "write_key": write_key,
        "transformations": chain_names(source.transformation_links.all()),
    }


def _export_destination(destination: Destination, claimed: dict[str, str]) -> dict[str, Any]:
    kind = REGISTRY.get(destination.kind)
    if kind is None:
        raise ConfigurationError(
            f"destination '{destination.name}': unknown kind '{destination.kind}'"
        )
    secret_keys = [setting.key for setting in kind.all_settings if setting.secret]
    owner = f"destination '{destination.name}'"
    return {
        "name": destination.name,
        "kind": destination.kind,
        **{key: getattr(destination, key) for key in DESTINATION_COLUMNS},
        "sources": sorted(source.name for source in destination.sources.all()),
        "settings": _sorted_json(destination.settings),
        "secrets": {
            key: claim(env_name(destination.name, key), f"the {key} of {owner}", claimed)
            for key in secret_keys
        },
        "transformations": chain_names(destination.transformation_links.all()),
        "mappings": [_export_mapping(mapping) for mapping in destination.mappings.all()],
    }


def _export_mapping(mapping: MappingRow) -> dict[str, Any]:
    return {key: _sorted_json(getattr(mapping, key)) for key in MAPPING_COLUMNS}


def _sorted_json(value: Any) -> Any:
    # Database backends keep JSON keys in different orders; sorting keeps the export stable.
    if isinstance(value, dict):
        return {key: _sorted_json(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_json(item) for item in value]
    return value
