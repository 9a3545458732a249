"""What the HubSpot tests share: the private app's token, the batch endpoints, the
mappings' default fields and a CRM stand-in on pytest-httpserver (test_hubspot*.py).
"""

from destinations.integrations import hubspot
from tests.destinations import events
from tests.destinations.integrations.contract import deliver

TOKEN = "pat-na1-5f2c9e1a-7b3d-4c8e-a1f0-2d6b9e3c7a45"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTACTS = "/crm/v3/objects/contacts/batch/upsert"
COMPANIES = "/crm/v3/objects/companies/batch/upsert"
EVENTS = "/events/v3/send/batch"
TIMESTAMP = "2026-03-01T12:00:00.000Z"
EVENT_NAME = "pe123456_api_call"
CONTACT = hubspot.UPSERT_CONTACT.default_fields()
COMPANY = hubspot.UPSERT_COMPANY.default_fields()
CUSTOM_EVENT = hubspot.SEND_CUSTOM_EVENT.default_fields() | {"event_name": EVENT_NAME}
# uuid5 of "msg-0001" in hubspot.EVENT_ID_NAMESPACE, written out so a change shows.
MSG_0001_UUID = "0b4bcf9b-7b0e-5183-bc40-6d390916291e"


def send(httpserver, action, sample_events, fields):
    settings = {"base_url": httpserver.url_for("/")}
    secrets = {"access_token": TOKEN}
    return deliver(
        httpserver,
        "hubspot",
        action,
        sample_events,
        settings=settings,
        secrets=secrets,
        fields=fields,
    )


def person(number: int, **traits) -> dict:
    return events.identify(number, traits={"email": f"user{number}@example.com", **traits})


def contact_input(number: int, position: int, **properties) -> dict:
    return {
        "idProperty": "email",
        "id": f"user{number}@example.com",
        "objectWriteTraceId": str(position),
        "properties": properties,
    }


def upserted(httpserver, path=CONTACTS):
    httpserver.expect_request(path).respond_with_json({"status": "COMPLETE", "results": []})


def tracked(number: int, **overrides) -> dict:
    context = {"traits": {"email": f"user{number}@example.com"}}
    return events.track(number, context=context) | overrides
