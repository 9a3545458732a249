"""Reloading a time range into a warehouse (docs/warehouse.md, "Reload").

Through the delivery pipeline rather than beside it: the events the destination's sources
received in the range are routed again to its mappings (destinations/services/replays.py,
`reroute_source`), as new deliveries marked as replays. The loads that carry them get the
retries, the breaker and the delivery log of every load, and merge on `id`, so a reload
updates rows and never duplicates one.
"""

from datetime import datetime

from destinations.services.replays import reroute_source

from .models import Table


class NothingToReload(Exception):
    pass


def reload_range(table: Table, start: datetime, end: datetime) -> int:
    """Route again the events received in [start, end) to the table's warehouse; returns the
    deliveries queued (every table they land in is reloaded, not only this one)."""
    if start >= end:
        raise NothingToReload("the range must start before it ends")
    destination = table.destination
    return sum(
        reroute_source(source, destination, start, end) for source in destination.sources.all()
    )
