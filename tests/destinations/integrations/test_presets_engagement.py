"""The default mappings of the customer engagement and CRM kinds: Braze, Customer.io, Klaviyo and
HubSpot (docs/destinations.md, "Wire formats"). presets.py holds the harness; test_presets.py
checks this table is complete.
"""

import pytest

from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.presets import (
    EPOCH_SECONDS,
    ISO_TIME,
    assert_makes,
    rendering,
    without,
)

RENDERINGS = [
    # Braze
    rendering(
        "braze",
        "Track calls",
        events.track(),
        {
            "external_id": "user-1",
            "name": "API Call",
            "time": ISO_TIME,
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "_update_existing_only": False,
        },
    ),
    rendering(
        "braze",
        "Track calls",
        events.track(context={**CONTEXT, "traits": {"email": "ada@example.com"}}),
        {
            "external_id": "user-1",
            "email": "ada@example.com",
            "name": "API Call",
            "time": ISO_TIME,
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "_update_existing_only": False,
        },
        case="the email in the context's traits",
    ),
    rendering(
        "braze",
        "Order completed calls",
        events.track(
            event="Order Completed",
            properties={"currency": "EUR", "products": [{"product_id": "sku-1", "price": 19.5}]},
        ),
        {
            "external_id": "user-1",
            "time": ISO_TIME,
            "products": [{"product_id": "sku-1", "price": 19.5}],
            "currency": "EUR",
            "properties": {"currency": "EUR", "products": [{"product_id": "sku-1", "price": 19.5}]},
            "_update_existing_only": False,
        },
    ),
    rendering(
        "braze",
        "Identify calls",
        events.identify(),
        {
            "external_id": "user-1",
            "email": "ada@example.com",
            "current_location": {},
            "custom_attributes": {"email": "ada@example.com", "plan": "pro"},
            "_update_existing_only": False,
        },
    ),
    rendering(
        "braze",
        "Identify calls",
        events.identify(
            traits={"firstName": "Ada", "lastName": "Lovelace", "gender": "female"},
            context={**CONTEXT, "location": {"country": "GB", "latitude": 51.5, "longitude": 0}},
        ),
        {
            "external_id": "user-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "gender": "female",
            "country": "GB",
            "current_location": {"latitude": 51.5, "longitude": 0},
            "custom_attributes": {"firstName": "Ada", "lastName": "Lovelace", "gender": "female"},
            "_update_existing_only": False,
        },
        case="names, gender and a location",
    ),
    # Customer.io
    rendering(
        "customerio",
        "Create or update person",
        events.identify(),
        {
            "id": "user-1",
            "anonymous_id": "anon-1",
            "email": "ada@example.com",
            "custom_attributes": {"email": "ada@example.com", "plan": "pro"},
            "timestamp": EPOCH_SECONDS,
            "convert_timestamp": True,
        },
    ),
    rendering(
        "customerio",
        "Create or update person",
        without(events.identify(traits={"email": "ada@example.com", "createdAt": 1}), "userId"),
        {
            "id": "ada@example.com",
            "anonymous_id": "anon-1",
            "email": "ada@example.com",
            "created_at": 1,
            "custom_attributes": {"email": "ada@example.com", "createdAt": 1},
            "timestamp": EPOCH_SECONDS,
            "convert_timestamp": True,
        },
        case="no user id, so the email is the person id",
    ),
    rendering(
        "customerio",
        "Track event",
        events.track(),
        {
            "id": "user-1",
            "anonymous_id": "anon-1",
            "name": "API Call",
            "event_id": "msg-0001",
            "timestamp": EPOCH_SECONDS,
            "data": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "convert_timestamp": True,
        },
    ),
    rendering(
        "customerio",
        "Track page view",
        events.page(context={**CONTEXT, "page": {"url": "https://example.com/pricing"}}),
        {
            "anonymous_id": "anon-1",
            "event_id": "pg-0001",
            "url": "https://example.com/pricing",
            "timestamp": EPOCH_SECONDS,
            "data": {"path": "/pricing", "title": "Pricing"},
            "convert_timestamp": True,
        },
    ),
    rendering(
        "customerio",
        "Delete person",
        events.track(event="User Deleted"),
        {"person_id": "user-1"},
    ),
    # Klaviyo
    rendering(
        "klaviyo",
        "Track events",
        events.track(),
        {
            "external_id": "user-1",
            "anonymous_id": "anon-1",
            "metric_name": "API Call",
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "time": ISO_TIME,
            "unique_id": "msg-0001",
        },
    ),
    rendering(
        "klaviyo",
        "Upsert profiles",
        events.identify(),
        {
            "email": "ada@example.com",
            "external_id": "user-1",
            "location": {},
            "properties": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    rendering(
        "klaviyo",
        "Add to list",
        events.track(event="Audience Entered"),
        {"external_id": "user-1", "list_id": "XyZ123"},
        added={"list_id": "XyZ123"},
    ),
    # HubSpot
    rendering(
        "hubspot",
        "Upsert contacts",
        events.identify(
            traits={
                "email": "ada@example.com",
                "firstName": "Ada",
                "last_name": "Lovelace",
                "company": "Analytical Engines",
                "address": {"street": "12 St James's Sq", "city": "London", "postal_code": "SW1"},
            }
        ),
        {
            "email": "ada@example.com",
            "firstname": "Ada",
            "lastname": "Lovelace",
            "company": "Analytical Engines",
            "address": "12 St James's Sq",
            "city": "London",
            "zip": "SW1",
        },
    ),
    rendering(
        "hubspot",
        "Upsert companies",
        events.group(traits={"name": "Acme Inc", "website": "acme.example", "employees": "12"}),
        {
            "id_property": "segment_group_id",
            "id": "acme-inc",
            "name": "Acme Inc",
            "domain": "acme.example",
            "numberofemployees": 12,
        },
    ),
    rendering(
        "hubspot",
        "Upsert companies",
        without(events.track(), "type") | {"type": "group"},
        {"id_property": "segment_group_id", "id": "acme-inc"},
        case="a group id only in context.groupId",
    ),
    rendering(
        "hubspot",
        "Custom Behavioral Event",
        events.track(context={**CONTEXT, "traits": {"email": "ada@example.com"}}),
        {
            "event_name": "pe123456_api_call",
            "occurred_at": ISO_TIME,
            "email": "ada@example.com",
            "message_id": "msg-0001",
        },
        added={"event_name": "pe123456_api_call"},
    ),
]


@pytest.mark.parametrize(("kind", "name", "added", "event", "expected"), RENDERINGS)
def test_each_default_mapping_validates_and_makes_the_exact_payload(
    kind, name, added, event, expected
):
    assert_makes(kind, name, added, event, expected)
