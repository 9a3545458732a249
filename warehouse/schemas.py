"""Which schema each event of a batch loads into (docs/warehouse.md, "Schemas"): its source's
name, snake_cased, unless the destination's Schemas setting names another.

A delivery's payload does not say which source its event came from, so the events of a
destination fed by several sources are looked up in the event store by messageId (within the
batch's receivedAt range, which keeps the lookup in the partitions that hold them).
"""

from datetime import datetime, timedelta
from typing import Any

from ingest.models import Event, Source

from . import naming

FALLBACK = "switchyard"  # for a source whose name names nothing
# receivedAt is written to the millisecond; the stored received_at keeps microseconds.
SLACK = timedelta(seconds=1)


def overrides(text: Any) -> dict[str, str]:
    """The Schemas setting: one `Source name = schema` per line."""
    chosen = {}
    for line in str(text or "").splitlines():
        source, equals, schema = line.partition("=")
        if equals and source.strip() and naming.schema_name(schema):
            chosen[source.strip()] = naming.schema_name(schema)
    return chosen


def schema_of(source: Source, chosen: dict[str, str]) -> str:
    return chosen.get(source.name) or naming.schema_name(source.name) or FALLBACK


def schemas_of(destination_id: int | None, chosen: dict[str, str], payloads: list[Any]) -> list:
    """The schema of each payload, in order."""
    sources = list(Source.objects.filter(destinations=destination_id)) if destination_id else []
    if not sources:
        return [FALLBACK] * len(payloads)
    default = schema_of(sources[0], chosen)
    if len(sources) == 1:
        return [default] * len(payloads)
    found = source_by_message(sources, payloads)
    by_id = {source.pk: schema_of(source, chosen) for source in sources}
    return [by_id.get(found.get(message_id(p)), default) for p in payloads]


def source_by_message(sources: list[Source], payloads: list[Any]) -> dict[str, int]:
    ids = [message_id(payload) for payload in payloads]
    events = Event.objects.filter(source__in=sources, message_id__in=[i for i in ids if i])
    received = [moment for payload in payloads if (moment := received_at(payload))]
    if received:
        events = events.filter(received_at__range=(min(received) - SLACK, max(received) + SLACK))
    return dict(events.values_list("message_id", "source_id"))


def message_id(payload: Any) -> str:
    value = payload.get("messageId") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else ""


def received_at(payload: Any) -> datetime | None:
    value = payload.get("receivedAt") if isinstance(payload, dict) else None
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
