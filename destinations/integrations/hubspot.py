"""HubSpot contacts, companies and custom behavioral events, with a private app's token.

CRM batch upsert: https://developers.hubspot.com/docs/api/crm/contacts (batch/upsert)
Custom events: https://developers.hubspot.com/docs/api/analytics/events (send/batch)
Errors and limits: https://developers.hubspot.com/docs/api/error-handling and
https://developers.hubspot.com/docs/api/usage-details
"""

import re
import uuid
from collections.abc import Callable
from typing import Any

from destinations.mapping import js_text

from .base import (
    Action,
    Builder,
    Config,
    ConnectionTest,
    Field,
    ItemResult,
    Kind,
    Outcome,
    Preset,
    Refusal,
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or
from .hubspot_rules import read_error, read_multi_status

DEFAULT_ORIGIN = "https://api.hubapi.com"
# HubSpot's batch endpoints take up to 100 inputs.
BATCH_SIZE = 100
# A custom event's fully qualified name: pe<Hub ID>_<name>.
EVENT_NAME = re.compile(r"pe\d+_\S+")
EVENT_ID_NAMESPACE = uuid.UUID("5d0f9c2a-8b1e-4f7a-a6c3-1e9b7d2f4a80")
# Segment's HubSpot destination created this unique company property, and filled it with
# the groupId: a team leaving Segment keeps matching the companies it already made.
SEGMENT_GROUP_ID_PROPERTY = "segment_group_id"


def auth(config: Config) -> dict[str, str]:
    return {"Authorization": f"Bearer {config['access_token']}"}


def property_value(value: Any) -> Any:
    """A value as a HubSpot property holds it: lists as HubSpot's multi-select text
    ("a;b"), objects as JSON text, as Segment's flattenObject sends them
    (packages/destination-actions/src/destinations/hubspot/utils.ts), but for null list
    items, which Segment writes as "null", an option nobody has."""
    if isinstance(value, list):
        return ";".join(js_text(item) for item in value if item is not None)
    if isinstance(value, dict):
        return js_text(value)
    return value


def hubspot_properties(named: dict[str, Any], other: dict[str, Any] | None) -> dict[str, Any]:
    """The named fields, then the mapping's other properties (which win), nulls left out
    as Segment leaves them out."""
    merged = {**named, **(other or {})}
    return {key: property_value(value) for key, value in merged.items() if value is not None}


def event_uuid(message_id: str) -> str:
    """HubSpot keeps the first occurrence of a uuid and rejects the others for a year, so the
    messageId, made a UUID when it is not one, keeps a retried event from counting twice."""
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return str(uuid.uuid5(EVENT_ID_NAMESPACE, message_id))


def event_input(payload: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"eventName": payload["event_name"]}
    if "occurred_at" in payload:
        event["occurredAt"] = payload["occurred_at"]
    for key, name in (("email", "email"), ("utk", "utk"), ("object_id", "objectId")):
        if payload.get(key):
            event[name] = payload[key]
    event["properties"] = hubspot_properties({}, payload.get("properties"))
    if payload.get("message_id"):
        event["uuid"] = event_uuid(payload["message_id"])
    return event


def refuse_event(payload: dict[str, Any]) -> ItemResult | None:
    """What HubSpot refuses the whole batch for (Segment's sendCustomBehavioralEvent checks
    the same two things before sending)."""
    if not EVENT_NAME.fullmatch(payload["event_name"]):
        return invalid("the event name must be the fully qualified pe<Hub ID>_<name>")
    if not any(payload.get(key) for key in ("email", "utk", "object_id")):
        return invalid("an event needs an email, a user token (utk) or an object ID")
    return None


def invalid(message: str) -> ItemResult:
    return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)


def build_events(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    good = tuple(i for i, payload in enumerate(payloads) if refuse_event(payload) is None)
    if not good:
        return []
    body = {"inputs": [event_input(payloads[i]) for i in good]}
    url = f"{config.base_url}/events/v3/send/batch"
    return [json_request("POST", url, body, good, auth(config))]


Identity = Callable[[dict[str, Any]], tuple[str, str]]
PropertyMaker = Callable[[dict[str, Any]], dict[str, Any]]


def rounds(keys: list[tuple[str, str]]) -> list[list[int]]:
    """Positions cut into rounds, in order, none holding a record twice: HubSpot refuses a
    batch naming one record in two inputs (400 "Duplicate IDs found in batch input"), and
    sending the repeats in a later request keeps the last write the last applied."""
    cut: list[list[int]] = []
    seen: dict[tuple[str, str], int] = {}
    for position, key in enumerate(keys):
        turn = seen.get(key, 0)
        if turn == len(cut):
            cut.append([])
        cut[turn].append(position)
        seen[key] = turn + 1
    return cut


def upsert_builder(
    object_type: str, identity: Identity, properties: PropertyMaker, refuse: Refusal
) -> Builder:
    """Batch upserts by a unique property; each input's objectWriteTraceId is its position
    in the request, by which a 207 answer names the inputs that failed."""

    def upsert_input(payload: dict[str, Any], position: int) -> dict[str, Any]:
        id_property, record_id = identity(payload)
        return {
            "idProperty": id_property,
            "id": record_id,
            "objectWriteTraceId": str(position),
            "properties": properties(payload),
        }

    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        good = [i for i, payload in enumerate(payloads) if refuse(payload) is None]
        url = f"{config.base_url}/crm/v3/objects/{object_type}/batch/upsert"
        requests = []
        # HubSpot matches emails and other unique values whatever their letter case.
        keys = [(prop, value.strip().lower()) for prop, value in map(identity, payloads)]
        for turn in rounds([keys[i] for i in good]):
            items = tuple(good[position] for position in turn)
            inputs = [upsert_input(payloads[i], n) for n, i in enumerate(items)]
            requests.append(json_request("POST", url, {"inputs": inputs}, items, auth(config)))
        return requests

    return build


def blank_id_refusal(identity: Identity) -> Refusal:
    def refuse(payload: dict[str, Any]) -> ItemResult | None:
        id_property, record_id = identity(payload)
        if not id_property.strip() or not record_id.strip():
            return invalid("the record's unique property or its value is blank")
        return None

    return refuse


def test_request(config: Config) -> Request:
    """The account's details: any valid token may read them (HubSpot's "oauth" scope, which
    every app has), so a token with only write scopes passes too; 401 for a bad one."""
    return Request("GET", f"{config.base_url}/account-info/v3/details", auth(config), b"", ())


def trait(key: str, label: str, source: str | dict[str, Any], kind: str = "string") -> Field:
    default = path(f"$.traits.{source}") if isinstance(source, str) else source
    return Field(key, label, kind, default=default, description=f"HubSpot's {key} property.")


OTHER_PROPERTIES = Field(
    "properties",
    "Other properties",
    "object",
    description="Any other properties, by internal name (they must exist in HubSpot); they "
    "win over the fields above. Lists are sent as a;b, objects as JSON text.",
)
LIFECYCLE_STAGE = Field(
    "lifecyclestage",
    "Lifecycle stage",
    "string",
    description="The stage's internal value (lead, customer...). HubSpot moves a record "
    "forward only: setting an earlier stage needs the property cleared first.",
)
FULLY_QUALIFIED = "The event's fully qualified name from HubSpot: pe<Hub ID>_<name>."
RECORD_IDS = "An email, a user token or a record's ID names the record of the occurrence."
EVENT_PROPERTIES = "The occurrence's properties, by internal name; they must exist on the event."
UUID = "Becomes the occurrence's uuid: HubSpot keeps one occurrence per uuid."
EVENT_EMAIL = path_or("$.properties.email", "$.context.traits.email", "$.traits.email")
GROUP_ID = path_or("$.groupId", "$.context.groupId")
POSTAL_CODE = path_or("$.traits.address.postalCode", "$.traits.address.postal_code")
CONTACT_FIELDS = (
    trait("firstname", "First name", path_or("$.traits.first_name", "$.traits.firstName")),
    trait("lastname", "Last name", path_or("$.traits.last_name", "$.traits.lastName")),
    trait("phone", "Phone", "phone"),
    trait("company", "Company name", "company"),
    trait("website", "Website", "website"),
    trait("address", "Street address", "address.street"),
    trait("city", "City", "address.city"),
    trait("state", "State", "address.state"),
    trait("country", "Country", "address.country"),
    trait("zip", "Postal code", POSTAL_CODE),
    LIFECYCLE_STAGE,
)
COMPANY_FIELDS = (
    trait("name", "Company name", "name"),
    trait("description", "Description", "description"),
    trait("domain", "Domain", "website"),
    trait("phone", "Phone", "phone"),
    trait("address", "Street address", "address.street"),
    trait("city", "City", "address.city"),
    trait("state", "State", "address.state"),
    trait("zip", "Postal code", POSTAL_CODE),
    trait("numberofemployees", "Number of employees", "employees", "integer"),
    trait("industry", "Industry", "industry"),
    LIFECYCLE_STAGE,
)


def record_properties(fields: tuple[Field, ...]) -> PropertyMaker:
    def properties(payload: dict[str, Any]) -> dict[str, Any]:
        named = {field.key: payload.get(field.key) for field in fields}
        if named["lifecyclestage"] is not None:
            named["lifecyclestage"] = named["lifecyclestage"].lower()
        return hubspot_properties(named, payload.get("properties"))

    return properties


def contact_identity(payload: dict[str, Any]) -> tuple[str, str]:
    return "email", payload["email"]


def company_identity(payload: dict[str, Any]) -> tuple[str, str]:
    return payload["id_property"], payload["id"]


def upsert_action(
    object_type: str,
    identity: Identity,
    id_fields: tuple[Field, ...],
    property_fields: tuple[Field, ...],
    **options: Any,
) -> Action:
    refuse = blank_id_refusal(identity)
    properties = record_properties(property_fields)
    return Action(
        fields=(*id_fields, *property_fields, OTHER_PROPERTIES),
        build=upsert_builder(object_type, identity, properties, refuse),
        batching=True,
        max_batch_size=BATCH_SIZE,
        default_batch_size=BATCH_SIZE,
        read_response=read_multi_status,
        read_error=read_error,
        refuse=refuse,
        **options,
    )


SEND_CUSTOM_EVENT = Action(
    key="send_custom_behavioral_event",
    title="Custom Behavioral Event",
    description="Record an occurrence of a custom behavioral event defined in HubSpot.",
    fields=(
        Field("event_name", "Event name", "string", True, description=FULLY_QUALIFIED),
        Field("occurred_at", "Occurred at", "datetime", default=path("$.timestamp")),
        Field("email", "Email", "string", default=EVENT_EMAIL, description=RECORD_IDS),
        Field("utk", "User token (utk)", "string", description=RECORD_IDS),
        Field("object_id", "Object ID", "string", description=RECORD_IDS),
        Field("properties", "Event properties", "object", description=EVENT_PROPERTIES),
        Field("message_id", "Message ID", "string", default=path("$.messageId"), description=UUID),
    ),
    build=build_events,
    batching=True,
    max_batch_size=BATCH_SIZE,
    default_batch_size=BATCH_SIZE,
    default_trigger='type = "track"',
    read_error=read_error,
    refuse=refuse_event,
)

UPSERT_CONTACT = upsert_action(
    "contacts",
    contact_identity,
    (Field("email", "Email", "string", True, path("$.traits.email")),),
    CONTACT_FIELDS,
    key="upsert_contact",
    title="Upsert Contact",
    description="Create or update a contact, found by email.",
    # An identify without an email has no contact to name.
    default_trigger='type = "identify" and traits.email != null',
)

UPSERT_COMPANY = upsert_action(
    "companies",
    company_identity,
    (
        Field(
            "id_property",
            "Unique property",
            "string",
            True,
            SEGMENT_GROUP_ID_PROPERTY,
            "The internal name of a company property that requires unique values. HubSpot's "
            "domain does not; Segment's destination made segment_group_id for this.",
        ),
        Field("id", "Unique value", "string", True, GROUP_ID),
    ),
    COMPANY_FIELDS,
    key="upsert_company",
    title="Upsert Company",
    description="Create or update a company, found by a property with unique values.",
    default_trigger='type = "group"',
)

KIND = Kind(
    key="hubspot",
    name="HubSpot",
    description="Contacts, companies and custom behavioral events in HubSpot's CRM.",
    docs_url="https://developers.hubspot.com/docs/api/crm/understanding-the-crm",
    default_base_url=DEFAULT_ORIGIN,
    settings=(
        Setting(
            "access_token",
            "Access token",
            "password",
            required=True,
            help="A private app's access token, with the crm.objects.contacts.write, "
            "crm.objects.companies.write and analytics.behavioral_events.send scopes it uses.",
        ),
    ),
    actions=(SEND_CUSTOM_EVENT, UPSERT_CONTACT, UPSERT_COMPANY),
    presets=(
        Preset("Upsert contacts", "upsert_contact", UPSERT_CONTACT.default_trigger),
        Preset("Upsert companies", "upsert_company", UPSERT_COMPANY.default_trigger),
    ),
    connection_test=ConnectionTest(test_request),
    orders_per_user=True,
)
