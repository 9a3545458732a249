from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from infra import encryption
from ingest.models import Source

from .delivery import transport
from .models import Destination, Mapping


@transaction.atomic
def create_destination(
    kind: str,
    name: str,
    settings: MappingType[str, Any] | None = None,
    secrets: MappingType[str, str] | None = None,
    sources: Iterable[Source] = (),
    enabled: bool = True,
) -> Destination:
    """Add a destination and a mapping for each of its kind's presets."""
    destination = Destination(name=name, kind=kind, settings=dict(settings or {}), enabled=enabled)
    destination.set_secrets(dict(secrets or {}))
    destination.full_clean()
    destination.save()
    destination.sources.set(sources)
    add_preset_mappings(destination)
    return destination


def add_preset_mappings(destination: Destination) -> list[Mapping]:
    spec = destination.kind_spec
    return [
        Mapping.objects.create(
            destination=destination,
            name=preset.name,
            action=preset.action,
            trigger=preset.trigger,
            fields=(
                preset.fields
                if preset.fields is not None
                else spec.action(preset.action).default_fields()
            ),
        )
        for preset in spec.presets
    ]


def create_mapping_from_action(destination: Destination, action_key: str, name: str) -> Mapping:
    """A new mapping with the action's default trigger and fields."""
    action = destination.kind_spec.action(action_key)
    return Mapping.objects.create(
        destination=destination,
        name=name,
        action=action_key,
        trigger=action.default_trigger,
        fields=action.default_fields(),
    )


def merge_secrets(destination: Destination, new_values: MappingType[str, str]) -> None:
    """Set secrets; an empty value keeps the stored one (the admin never shows it back)."""
    current = dict(destination.secrets)
    current.update({key: value for key, value in new_values.items() if value})
    destination.set_secrets(current)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def check_connection(destination: Destination) -> ConnectionCheck:
    spec = destination.kind_spec
    if spec.connection_test is None:
        return ConnectionCheck(False, f"{spec.name} has no connection test")
    exchange = transport.send(spec.connection_test.request(destination.config()))
    if exchange.status is None:
        return ConnectionCheck(False, f"{exchange.error_code}: {exchange.error_message}")
    ok = exchange.status in spec.connection_test.ok_statuses
    verdict = "credentials accepted" if ok else "credentials refused"
    return ConnectionCheck(ok, f"HTTP {exchange.status}: {verdict}")


def reencrypt_secrets() -> int:
    """Re-encrypt every destination's secrets under the first key of SECRETS_KEYS (rotation);
    returns how many destinations were rewritten. All or nothing: one unreadable row stops it.
    """
    with transaction.atomic():
        destinations = list(Destination.objects.select_for_update().exclude(encrypted_secrets=""))
        for destination in destinations:
            destination.encrypted_secrets = encryption.reencrypt(destination.encrypted_secrets)
        Destination.objects.bulk_update(destinations, ["encrypted_secrets"], batch_size=500)
    return len(destinations)
