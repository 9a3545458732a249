"""Mixpanel's Ingestion API https://docs.mixpanel.com/reference/ingestion-api: events and
aliases to /import (https://docs.mixpanel.com/reference/import-events), profiles to /engage
and /groups. Fields and mappings follow Segment's Mixpanel (Actions) destination
(segmentio/action-destinations, packages/destination-actions/src/destinations/mixpanel).
"""

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from .base import (
    Action,
    Builder,
    Config,
    ConnectionTest,
    Field,
    Kind,
    Preset,
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or
from .mixpanel_rules import (
    GROUP_RESERVED,
    USER_RESERVED,
    full_name,
    insert_id,
    read_import_answer,
    read_updates_answer,
    reserved_names,
)

DEFAULT_REGION = "US"
HOSTS = {
    "US": "https://api.mixpanel.com",
    "EU": "https://api-eu.mixpanel.com",
    "IN": "https://api-in.mixpanel.com",
}
# /import takes 2000 events and 10 MB of uncompressed JSON a request; the margin leaves
# room for what the builder adds to each event.
MAX_EVENTS = 2000
MAX_EVENT_BYTES = 9_000_000
DEFAULT_EVENT_BATCH_SIZE = 500
# /engage takes 2000 updates a request (User Profile API, Limits), and Mixpanel recommends
# batches of 200 (Importing Profiles via API). No request size is documented; the 413 of
# the Ingestion API's reference names 2 MiB, hence this one.
MAX_UPDATES = 2000
MAX_UPDATE_BYTES = 1_900_000
DEFAULT_UPDATE_BATCH_SIZE = 200
# Without an ip, Mixpanel locates the event or profile by the request's address (ours);
# "0" tells it not to (Geolocation, "Server-side").
NO_GEOLOCATION = "0"


def origin(config: Config) -> str:
    # A base URL (a proxy, a test server) wins over the region's host.
    if config.get("base_url"):
        return config.base_url
    return HOSTS.get(str(config.get("region")), HOSTS[DEFAULT_REGION])


def uses_service_account(config: Config) -> bool:
    return bool(config.get("api_secret") and config.get("service_account_username"))


def import_url(config: Config) -> str:
    # strict=1: Mixpanel validates each event and names the ones it refused.
    query = {"strict": "1"}
    if uses_service_account(config) and config.get("project_id"):
        query["project_id"] = str(config["project_id"])
    return f"{origin(config)}/import?{urlencode(query)}"


def import_auth(config: Config) -> dict[str, str]:
    """A service account (its username and secret, with the project_id in the query), the
    project's API secret as the user name, or else the project token as the user name, as
    /import takes them (Import Events, Authentication)."""
    if uses_service_account(config):
        username, password = config["service_account_username"], config["api_secret"]
    else:
        username, password = config.get("api_secret") or config.get("project_token", ""), ""
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def track_event(config: Config, payload: dict[str, Any]) -> dict[str, Any]:
    identity = {
        "time": payload["time"],
        # Mixpanel wants one on every event; an empty one keeps the event out of user
        # analysis (Import Events, properties.distinct_id).
        "distinct_id": payload.get("distinct_id", ""),
        "$insert_id": insert_id(payload["insert_id"]),
    }
    for key in ("device_id", "user_id", "group_id"):
        if key in payload:
            identity[f"${key}"] = payload[key]
    # The event's own properties may replace the defaults, never what identifies it.
    properties = {
        **identity,
        "ip": payload.get("ip", NO_GEOLOCATION),
        **(payload.get("default_properties") or {}),
        **(payload.get("event_properties") or {}),
        **identity,
    }
    return {"event": payload["event"], "properties": properties}


def alias_event(config: Config, payload: dict[str, Any]) -> dict[str, Any]:
    properties = {
        "time": payload["time"],
        "distinct_id": payload["distinct_id"],
        "$insert_id": insert_id(payload["insert_id"]),
        "alias": payload["alias"],
        "token": config.get("project_token", ""),
    }
    return {"event": "$create_alias", "properties": properties}


# Makes what one payload becomes in a request's JSON array: an event, a profile update.
Converter = Callable[[Config, dict[str, Any]], dict[str, Any]]


def import_builder(to_event: Converter) -> Builder:
    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        events = [to_event(config, payload) for payload in payloads]
        headers = import_auth(config)
        return [json_request("POST", import_url(config), events, range(len(events)), headers)]

    return build


def profile_update(config: Config, payload: dict[str, Any]) -> dict[str, Any]:
    traits = payload.get("traits") or {}
    return {
        "$token": config.get("project_token", ""),
        "$distinct_id": payload["distinct_id"],
        "$ip": payload.get("ip", NO_GEOLOCATION),
        "$set": reserved_names(traits, USER_RESERVED) | full_name(traits),
    }


def group_update(config: Config, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "$token": config.get("project_token", ""),
        "$group_key": payload["group_key"],
        "$group_id": payload["group_id"],
        "$set": reserved_names(payload.get("traits") or {}, GROUP_RESERVED),
    }


def updates_builder(path: str, to_update: Converter) -> Builder:
    """Updates as a JSON array, authenticated by the project token in each; verbose=1 makes
    Mixpanel say in the body whether it took them, which its status code does not."""

    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        updates = [to_update(config, payload) for payload in payloads]
        url = f"{origin(config)}{path}?verbose=1"
        return [json_request("POST", url, updates, range(len(updates)))]

    return build


def test_request(config: Config) -> Request:
    """An empty /import with the credentials events go with: it imports nothing. Mixpanel
    answers wrong credentials with 401; an empty batch, which its reference forbids
    (minItems 1), with 400 once they passed, so 400 counts as accepted. That Mixpanel
    checks credentials before the body is an assumption its reference does not state."""
    return json_request("POST", import_url(config), [], (), import_auth(config))


USER_OR_ANONYMOUS_ID = path_or("$.userId", "$.anonymousId")
TIME = Field("time", "Time", "datetime", True, path("$.timestamp"), datetime_format="epoch_ms")
INSERT_ID_FIELD = Field(
    "insert_id",
    "Insert ID",
    "string",
    True,
    path("$.messageId"),
    "Mixpanel drops an event with the same name, time, distinct ID and insert ID as one it "
    "has, so a batch sent twice counts once.",
)
IP = Field("ip", "IP address", "string", default=path("$.context.ip"))
# Mixpanel's default properties (Default Properties), from the Segment context.
DEFAULT_PROPERTIES = {
    "$app_version_string": path("$.context.app.version"),
    "$app_build_number": path("$.context.app.build"),
    "$os": path("$.context.os.name"),
    "$os_version": path("$.context.os.version"),
    "$manufacturer": path("$.context.device.manufacturer"),
    "$model": path("$.context.device.model"),
    "$carrier": path("$.context.network.carrier"),
    "$current_url": path("$.context.page.url"),
    "$referrer": path("$.context.page.referrer"),
    "utm_source": path("$.context.campaign.source"),
    "utm_medium": path("$.context.campaign.medium"),
    "utm_campaign": path("$.context.campaign.name"),
    "utm_term": path("$.context.campaign.term"),
    "utm_content": path("$.context.campaign.content"),
}


TRACK_EVENT = Action(
    key="track_event",
    title="Track event",
    description="Send an event to Mixpanel's /import API.",
    fields=(
        Field("event", "Event name", "string", True, path("$.event")),
        Field("distinct_id", "Distinct ID", "string", default=USER_OR_ANONYMOUS_ID),
        # With both on one event, Simplified ID Merge joins the device to the user.
        Field("device_id", "Device ID", "string", default=path("$.anonymousId")),
        Field("user_id", "User ID", "string", default=path("$.userId")),
        Field("group_id", "Group ID", "string", default=path("$.context.groupId")),
        INSERT_ID_FIELD,
        TIME,
        IP,
        Field("default_properties", "Default properties", "object", default=DEFAULT_PROPERTIES),
        Field("event_properties", "Event properties", "object", default=path("$.properties")),
    ),
    build=import_builder(track_event),
    default_trigger='type = "track"',
    batching=True,
    max_batch_size=MAX_EVENTS,
    default_batch_size=DEFAULT_EVENT_BATCH_SIZE,
    max_batch_bytes=MAX_EVENT_BYTES,
    read_response=read_import_answer,
)

IDENTIFY_USER = Action(
    key="identify_user",
    title="Identify user",
    description="Set properties on a user's profile (/engage, $set).",
    fields=(
        Field("distinct_id", "Distinct ID", "string", True, USER_OR_ANONYMOUS_ID),
        IP,
        Field("traits", "User properties", "object", default=path("$.traits")),
    ),
    build=updates_builder("/engage", profile_update),
    default_trigger='type = "identify"',
    batching=True,
    max_batch_size=MAX_UPDATES,
    default_batch_size=DEFAULT_UPDATE_BATCH_SIZE,
    max_batch_bytes=MAX_UPDATE_BYTES,
    read_response=read_updates_answer,
)

GROUP_IDENTIFY = Action(
    key="group_identify",
    title="Group identify",
    description="Set properties on a group's profile (/groups, $set).",
    fields=(
        Field(
            "group_key",
            "Group key",
            "string",
            True,
            "$group_id",
            "The group key set in Mixpanel's project settings; Track event sends the group "
            "of each event as $group_id.",
        ),
        Field("group_id", "Group ID", "string", True, path("$.groupId")),
        Field("traits", "Group properties", "object", default=path("$.traits")),
    ),
    build=updates_builder("/groups", group_update),
    default_trigger='type = "group"',
    batching=True,
    max_batch_size=MAX_UPDATES,
    default_batch_size=DEFAULT_UPDATE_BATCH_SIZE,
    max_batch_bytes=MAX_UPDATE_BYTES,
    read_response=read_updates_answer,
)

# $create_alias works in projects on Original ID Merge and on the legacy system, and does
# nothing in Simplified ID Merge, where Track event's $device_id and $user_id merge users.
# $merge is left out: Original ID Merge only, and irreversible (Identity Merge APIs).
ALIAS = Action(
    key="alias",
    title="Alias",
    description="Tie an alias to a distinct ID ($create_alias), for projects not on "
    "Simplified ID Merge.",
    fields=(
        Field("alias", "Alias", "string", True, USER_OR_ANONYMOUS_ID),
        Field("distinct_id", "Distinct ID", "string", True, path("$.previousId")),
        INSERT_ID_FIELD,
        TIME,
    ),
    build=import_builder(alias_event),
    default_trigger='type = "alias"',
    batching=True,
    max_batch_size=MAX_EVENTS,
    default_batch_size=DEFAULT_EVENT_BATCH_SIZE,
    max_batch_bytes=MAX_EVENT_BYTES,
    read_response=read_import_answer,
)

VIEWED = {**TRACK_EVENT.default_fields(), "event": {"@template": "Viewed {{name}}"}}

KIND = Kind(
    key="mixpanel",
    name="Mixpanel",
    description="Events, user and group profiles, and aliases for Mixpanel analytics.",
    docs_url="https://docs.mixpanel.com/reference/import-events",
    # Empty, so the admin form never stores a base URL nobody typed: one that is set wins
    # over the region.
    default_base_url="",
    settings=(
        Setting(
            "project_token",
            "Project token",
            "password",
            required=True,
            help="The project's token; it also authenticates /import when no secret is set",
        ),
        Setting(
            "api_secret",
            "Secret",
            "password",
            help="A service account's secret (with its username and the project ID), or the "
            "project's API secret",
        ),
        Setting("service_account_username", "Service account username"),
        Setting("project_id", "Project ID", help="Needed with a service account"),
        Setting(
            "region",
            "Data residency",
            "choice",
            default=DEFAULT_REGION,
            choices=tuple(HOSTS),
            help="EU or IN for a project with EU or India data residency",
            chooses_host=True,
        ),
    ),
    actions=(TRACK_EVENT, IDENTIFY_USER, GROUP_IDENTIFY, ALIAS),
    presets=(
        Preset("Track calls", "track_event", 'type = "track"'),
        Preset("Page calls", "track_event", 'type = "page"', VIEWED),
        Preset("Screen calls", "track_event", 'type = "screen"', VIEWED),
        Preset("Identify calls", "identify_user", 'type = "identify"'),
        Preset("Group calls", "group_identify", 'type = "group"'),
    ),
    connection_test=ConnectionTest(test_request, frozenset({*range(200, 300), 400})),
    orders_per_user=True,
)
