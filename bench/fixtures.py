"""The rows a benchmark run needs: a source per phase, the sink as a Metronome destination and
the transformation its events go through."""

from dataclasses import dataclass

from bench.transformations import RENAME_CODE
from destinations.models import Destination
from destinations.services.destinations import create_destination
from destinations.services.transformations import create_transformation, set_destination_chain
from ingest.models import Source
from ingest.sources import create_source


@dataclass(frozen=True)
class Sources:
    track: Source
    batch: Source
    # The only source connected to a destination: the end-to-end run's.
    e2e: Source


def create_sources() -> Sources:
    return Sources(
        track=create_source("bench: /v1/track")[0],
        batch=create_source("bench: /v1/batch")[0],
        e2e=create_source("bench: end to end")[0],
    )


def create_sink_destination(
    sink_url: str, source: Source, name: str = "bench sink", batch_size: int | None = None
) -> Destination:
    """Metronome's preset mapping (track events, batches of 100, or of `batch_size`), sent to
    the local sink."""
    destination = create_destination(
        "metronome", name, {"base_url": sink_url}, {"api_token": "bench"}, [source]
    )
    if batch_size is not None:
        for mapping in destination.mappings.all():
            mapping.batch_size = batch_size
            mapping.save()  # validates: Metronome takes 1 to 100
    return destination


def attach_transformation(destination: Destination, name: str = "bench: rename coupon") -> str:
    """A transformation that renames a property and keeps every event, as the destination's
    chain; returns the version its events run ("bench: rename coupon v1")."""
    transformation = create_transformation(name, RENAME_CODE, author="bench")
    set_destination_chain(destination, [transformation])
    return str(transformation.current_version)
