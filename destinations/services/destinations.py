import json
from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from infra import encryption
from ingest.models import Source

from ..delivery import holds, transport
from ..integrations import REGISTRY
from ..integrations.base import Kind
from ..models import Destination, Mapping

DEFAULT_PORTS = {"http": 80, "https": 443}


@transaction.atomic
def create_destination(
    kind: str,
    name: str,
    settings: MappingType[str, Any] | None = None,
    secrets: MappingType[str, str] | None = None,
    sources: Iterable[Source] = (),
    enabled: bool = True,
) -> Destination:
    """Add a destination and a mapping for each of its kind's presets; it keeps order per user
    if its kind does."""
    spec = REGISTRY.get(kind)
    destination = Destination(
        name=name,
        kind=kind,
        settings=dict(settings or {}),
        enabled=enabled,
        keep_order=spec.orders_per_user if spec else False,
    )
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
class Unbound:
    """The stored secrets a save dropped (their keys), and the new origins that cost them."""

    secrets: tuple[str, ...]
    origins: tuple[str, ...]


def secret_origins(destination: Destination) -> frozenset[str]:
    """Where the destination's secrets may go: the origin (scheme, host, port) each host
    setting names, defaults included, and each URL field of its mappings names.

    A stored secret is never shown back, so an editor who may change a destination but not
    read its secrets must not be able to send them to a server of their own: a secret stays
    bound to the origins it was typed for. A path is not part of it (the same server).

    Secrets are per destination but a webhook names its URL per mapping, so the binding is
    the set of origins all the destination's mappings name, disabled ones included (enabling
    one changes no URL). A mapping to an origin none of them names, added or edited, would
    take the shared secret somewhere new: the bodies it signs there, which the editor's
    mapping chooses, could be replayed to the real receiver as ours. A mapping to an origin
    another one names already, or a mapping deleted, takes it nowhere new.
    """
    kind = destination.kind_spec
    values = (
        destination.settings.get(setting.key) or setting.default
        for setting in kind.all_settings
        if setting.chooses_host
    )
    origins = {url_origin(str(value)) for value in values if value}
    if destination.pk is not None:
        for mapping in Mapping.objects.filter(destination_id=destination.pk):
            origins |= mapping_origins(kind, mapping)
    return frozenset(origins)


def mapping_origins(kind: Kind, mapping: Mapping) -> set[str]:
    try:
        action = kind.action(mapping.action)
    except KeyError:  # an action an upgrade removed sends nothing
        return set()
    url_fields = (field.key for field in action.fields if field.type == "url")
    return {expression_origin(mapping.fields[key]) for key in url_fields if key in mapping.fields}


def expression_origin(expression: Any) -> str:
    """The origin a URL field's mapping sends to. One the event chooses (a path, a template
    whose host has a placeholder) is named by the mapping itself, so that any change to it
    counts as a new origin."""
    if isinstance(expression, dict) and expression.keys() == {"@literal"}:
        expression = expression["@literal"]
    if isinstance(expression, str):
        return url_origin(expression)
    is_template = isinstance(expression, dict) and expression.keys() == {"@template"}
    if is_template and isinstance(expression["@template"], str):
        fixed = expression["@template"].split("{{", 1)[0]
        # The host is fixed once the text before the first placeholder has ended it.
        if any(mark in fixed.partition("://")[2] for mark in "/?#"):
            return url_origin(fixed)
    return f"an address each event chooses ({json.dumps(expression, sort_keys=True)})"


def url_origin(url: str) -> str:
    """scheme://host[:port] of a URL, or of a bare host name (which kinds reach over https);
    a URL that does not parse is its own origin, so any change to it counts."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    try:
        port = parts.port
    except ValueError:
        return url
    if not parts.hostname:
        return url
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port in (None, DEFAULT_PORTS.get(scheme)) else f":{port}"
    return f"{scheme}://{host}{shown_port}"


def locked_destination(destination_id: int) -> Destination:
    """The destination as stored, its row locked until the transaction ends, so that a
    concurrent save cannot bring back secrets this one drops."""
    return Destination.objects.select_for_update().get(pk=destination_id)


def unbind_secrets(
    destination: Destination, before: frozenset[str], typed: MappingType[str, str]
) -> Unbound | None:
    """Drop the saved destination's secrets, but those `typed` with this change, when it now
    sends to an origin outside `before` (see secret_origins)."""
    kept = {key: value for key, value in typed.items() if value}
    new_origins = secret_origins(destination) - before
    dropped = sorted(set(destination.secrets) - set(kept)) if new_origins else []
    if not dropped:
        return None
    destination.set_secrets(kept)
    destination.save(update_fields=["encrypted_secrets", "updated"])
    return Unbound(tuple(dropped), tuple(sorted(new_origins)))


@transaction.atomic
def save_destination(destination: Destination, typed: MappingType[str, str]) -> Unbound | None:
    """Save a destination edited with `typed` secrets (the others blank, meaning "keep")."""
    if destination.pk is None:
        destination.save()
        return None
    stored = locked_destination(destination.pk)
    before = secret_origins(stored)
    # The secrets stored now, not when the form read them: a mapping saved since then may
    # have dropped them.
    destination.set_secrets(dict(stored.secrets) | {k: v for k, v in typed.items() if v})
    destination.save()
    if stored.keep_order and not destination.keep_order:
        # Nothing would release them now; the sweeper would, within half a minute.
        transaction.on_commit(lambda: holds.release_destination(destination.pk))
    return unbind_secrets(destination, before, typed)


@transaction.atomic
def save_mapping(mapping: Mapping) -> Unbound | None:
    """Save a mapping; its destination's secrets go if the mapping names a new origin."""
    stored = locked_destination(mapping.destination_id)
    before = secret_origins(stored)
    mapping.save()
    return unbind_secrets(stored, before, {})


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def check_connection(destination: Destination) -> ConnectionCheck:
    spec = destination.kind_spec
    if spec.connection_test is None:
        return ConnectionCheck(False, f"{spec.name} has no connection test")
    config = destination.config()
    if missing := spec.missing_secrets(config):
        # Never typed, or dropped when the destination moved to another host: the request
        # could not be built.
        return ConnectionCheck(False, f"nothing sent: type the {', '.join(missing)} first")
    if spec.connection_test.run is not None:
        return ConnectionCheck(*spec.connection_test.run(config))
    exchange = transport.send(spec.connection_test.request(config))
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
