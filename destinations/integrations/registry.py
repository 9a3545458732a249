"""The catalog: every destination kind, by key. Adding a kind is its module and one line here."""

from . import (
    aggregations,
    amplitude,
    braze,
    customerio,
    ga4,
    hubspot,
    klaviyo,
    launchdarkly,
    librato,
    meta_conversions,
    metronome,
    mixpanel,
    posthog,
    segment,
    slack,
    warehouse,
    webhook,
)
from .base import Kind

KINDS = [
    metronome.KIND,
    aggregations.KIND,
    launchdarkly.KIND,
    librato.KIND,
    webhook.KIND,
    segment.KIND,
    amplitude.KIND,
    mixpanel.KIND,
    braze.KIND,
    customerio.KIND,
    klaviyo.KIND,
    hubspot.KIND,
    posthog.KIND,
    slack.KIND,
    ga4.KIND,
    meta_conversions.KIND,
    warehouse.KIND,
]
REGISTRY: dict[str, Kind] = {kind.key: kind for kind in KINDS}


def get_kind(key: str) -> Kind:
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown destination kind '{key}'") from None
