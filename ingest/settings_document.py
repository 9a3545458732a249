"""The settings analytics.js (@segment/analytics-next) fetches from its CDN for a write key.

`AnalyticsBrowser.load({writeKey, cdnURL})`, or the snippet with `analytics._cdn`, asks
`<cdnURL>/v1/projects/<writeKey>/settings` for this document before it sends anything; its
"Segment.io" integration is what points the library at this server's Tracking API.
"""

from typing import Any

from .selectors import source_for_write_key

# analytics.js reads only `__default`: every event is allowed, as the Tracking API allows it.
PLAN = {
    "track": {"__default": {"enabled": True, "integrations": {}}},
    "identify": {"__default": {"enabled": True}},
    "group": {"__default": {"enabled": True}},
}


def cdn_settings(write_key: str, api_host: str, protocol: str) -> dict[str, Any] | None:
    """The document for an enabled source's write key; None for any other key.

    `api_host` is where the Tracking API lives, without the scheme ("example.com/v1"): the
    library posts to `<protocol>://<api_host>/t`, `/p`, ...
    """
    source = source_for_write_key(write_key)
    if source is None or not source.enabled:
        return None
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": protocol,
                # Otherwise every event carries `_metadata` listing device-mode destinations,
                # which Switchyard does not have.
                "addBundledMetadata": False,
                "unbundledIntegrations": [],
                "maybeBundledConfigIds": {},
            }
        },
        "plan": PLAN,
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        # The library would post its own counters to `https://<apiHost>/m`, always over https
        # (it takes the protocol from load options only) and to an endpoint Switchyard lacks.
        "metrics": {"sampleRate": 0, "host": api_host},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
