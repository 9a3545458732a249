"""Issue 6's acceptance journey in a real browser (docs/admin.md): an operator logs in, adds a
Metronome destination from the catalog, tries its preset mapping on a pasted event, sends a test
event, watches events from the Tracking API in the delivery log and retries a failed delivery.

Chromium drives the admin of pytest-django's live server; a real Celery worker (with beat)
delivers to a local sink standing in for Metronome. Each step leaves a screenshot in
test-results/screenshots/, and no page the browser is shown may contain the API token.
"""

import json
import re
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Page, Response, expect

from destinations.models import Delivery, Destination
from infra.encryption import MASK
from ingest.models import Source
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import Received, Sink

# Distinctive, so that finding it anywhere in a page is certainly a leak.
TOKEN = "mtr_live_9c2f7a41e8b35d06"
PASSWORD = "journey-password-1"
JSON = {"Content-Type": "application/json"}
# Metronome does not know this customer until the operator sets it up there.
UNKNOWN_CUSTOMER = "globex"

SAMPLE_EVENT = {
    "type": "track",
    "event": "Seats Added",
    "messageId": "test-mapping-0001",
    "userId": "user-42",
    "timestamp": "2025-01-15T10:00:00.000Z",
    "context": {"groupId": "acme"},
    "properties": {"seats": 3, "plan": "team"},
}
NOT_A_TRACK = {
    "type": "identify",
    "messageId": "test-mapping-0002",
    "userId": "user-42",
    "traits": {"email": "ada@example.com"},
}


class Metronome:
    """The sink's answers: 400 for a batch naming an unknown customer, until it is set up."""

    def __init__(self) -> None:
        self.known_customers = {"acme"}

    def __call__(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        items = request.json()
        unknown = sorted({item["customer_id"] for item in items} - self.known_customers)
        if unknown:
            message = f"customer_id {unknown[0]!r} is not a Metronome customer"
            return 400, JSON, orjson.dumps({"message": message})
        return 200, JSON, orjson.dumps({"accepted": len(items)})


class Journey:
    """The browser's page, with a token check after every step and a numbered screenshot."""

    def __init__(self, page: Page, base_url: str, screenshots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.screenshots = screenshots
        self.step = 0
        self.checked_pages = 0
        self.documents: list[Response] = []
        page.on("response", self.note_document)

    def note_document(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents.append(response)

    def visit(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.check()

    def check(self) -> None:
        """The page shown holds no token, nor did any HTML document served since last time."""
        self.page.wait_for_load_state()
        html = self.page.content()
        assert TOKEN not in html, f"the API token is in the page at {self.page.url}"
        assert "Server Error" not in html, self.page.url
        for response in self.documents:
            assert response.status < 500, f"{response.status} at {response.url}"
            if not 300 <= response.status < 400:
                assert TOKEN not in response.text(), f"the API token was served at {response.url}"
        self.documents.clear()
        self.checked_pages += 1

    def shot(self, name: str) -> None:
        self.check()
        self.step += 1
        self.page.screenshot(path=self.screenshots / f"{self.step:02d}-{name}.png", full_page=True)


def at(page: Page, path: str) -> None:
    """The page is at this path, whatever its query string (the admin's preserved filters)."""
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$"))


def results(page: Page):
    return page.locator("#result_list tbody tr")


@pytest.mark.timeout(180)
def test_operator_journey_from_catalog_to_a_retried_delivery(
    live_server, page, screenshots, django_user_model, source: Source, sinks, start_worker
):
    metronome = Metronome()
    sink: Sink = sinks(answer=metronome)
    start_worker()  # boots while the browser works through the first steps
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    journey = Journey(page, live_server.url, screenshots)

    # Log in.
    journey.visit("/admin/")
    expect(page).to_have_url(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_have_text("Switchyard")
    expect(page.locator("#user-tools")).to_contain_text("ops")
    journey.shot("logged-in")

    # The source's write key, as the operator would copy it into an SDK.
    journey.visit(f"/admin/ingest/source/{source.pk}/change/")
    # Fold the admin's navigation sidebar (remembered by the browser) for room: with it open,
    # the delivery log's eleven columns need more than 1440 pixels.
    page.click("#toggle-nav-sidebar")
    expect(page.locator("#nav-sidebar")).to_be_hidden()
    expect(page.locator("#write-key")).to_have_text(source.write_key)
    expect(page.locator("#copy-write-key")).to_be_visible()
    journey.shot("source")

    # The catalog: "Add destination" without a kind lands there.
    journey.visit("/admin/destinations/destination/add/")
    expect(page).to_have_url(f"{live_server.url}/admin/destinations/destination/catalog/")
    metronome_card = page.locator("#kind-metronome")
    expect(metronome_card).to_contain_text("Metronome")
    expect(metronome_card).to_contain_text("Send track events")
    journey.shot("catalog")

    # Add a Metronome destination: name, token, source, and the sink as its base URL.
    page.click("#add-metronome")
    expect(page).to_have_url(
        f"{live_server.url}/admin/destinations/destination/add/?kind=metronome"
    )
    expect(page.locator("#kind-summary")).to_contain_text("Send track events")
    page.fill("#id_name", "Billing")
    page.fill("#id_api_token", TOKEN)
    page.get_by_label(source.name).check()
    base_url = page.locator("#id_base_url")
    expect(base_url).to_be_hidden()  # advanced settings start folded
    page.locator("summary", has_text="Advanced settings").click()
    # The default is shown, not filled in: only a base URL typed on purpose is saved.
    expect(base_url).to_have_attribute("placeholder", "https://api.metronome.com")
    expect(base_url).to_have_value("")
    base_url.fill(sink.url)
    journey.shot("add-destination")
    page.click("input[name=_continue]")

    # Saved: the token is stored encrypted and never shown again, the preset mapping exists.
    expect(page.locator(".messagelist")).to_contain_text("Added the preset mapping")
    destination = Destination.objects.get(name="Billing")
    # (The admin carries the add page's query string, "?kind=metronome", over as preserved
    # filters: `at` ignores query strings.)
    at(page, f"/admin/destinations/destination/{destination.pk}/change/")
    assert destination.kind == "metronome"
    assert list(destination.sources.all()) == [source]
    assert destination.config()["api_token"] == TOKEN
    assert destination.config().base_url == sink.url
    mapping = destination.mappings.get()
    assert (mapping.name, mapping.action, mapping.trigger) == (
        "Send track events",
        "send_event",
        'type = "track"',
    )
    expect(page.locator("#id_api_token")).to_have_attribute("placeholder", MASK)
    expect(page.locator("#id_api_token")).to_have_value("")
    inline = page.locator("#mappings-group")
    expect(inline).to_contain_text("Send track events")
    expect(inline).to_contain_text('type = "track"')
    expect(page.locator("#new-mapping")).to_be_visible()
    expect(page.locator("#destination-health")).to_be_visible()
    journey.shot("destination")

    # The preset mapping's page: trigger, fields and the action's schema.
    inline.get_by_role("link", name="Change").click()
    at(page, f"/admin/destinations/mapping/{mapping.pk}/change/")
    expect(page.locator("#id_trigger")).to_have_value('type = "track"')
    fields = json.loads(page.locator("#id_fields").input_value())
    assert fields["customer_id"] == {"@path": "$.context.groupId"}
    expect(page.locator("#action-schema")).to_contain_text("transaction_id")
    journey.shot("mapping")

    # Test mapping: an event the trigger refuses, condition by condition...
    page.click("#test-mapping-link")
    at(page, f"/admin/destinations/mapping/{mapping.pk}/test/")
    journey.check()
    page.fill("#test-mapping-event", json.dumps(NOT_A_TRACK, indent=2))
    page.click("#dry-run")
    expect(page.locator("#trigger-verdict")).to_contain_text("does not match")
    condition = page.locator("#trigger-conditions tbody tr")
    expect(condition).to_have_count(1)
    expect(condition).to_contain_text('type = "track"')
    expect(condition).to_contain_text('"identify"')
    expect(condition).to_contain_text("not held")
    journey.check()

    # ... then a track event: it matches, and the request it makes is shown, token masked.
    page.fill("#test-mapping-event", json.dumps(SAMPLE_EVENT, indent=2))
    page.click("#dry-run")
    expect(page.locator("#trigger-verdict")).to_contain_text("The trigger matches this event")
    expect(condition).to_contain_text('"track"')
    expect(condition).to_contain_text("✓ held")
    expect(page.locator("#dry-run-problem")).to_have_count(0)
    expect(page.locator("#dry-run-method")).to_have_text("POST")
    expect(page.locator("#dry-run-url")).to_have_text(f"{sink.url}/v1/ingest")
    expect(page.locator("#dry-run-headers")).to_contain_text(f"Bearer {MASK}")
    body = json.loads(page.locator("#dry-run-body").inner_text())
    assert body == [
        {
            "transaction_id": "test-mapping-0001",
            "customer_id": "acme",
            "timestamp": "2025-01-15T10:00:00.000Z",
            "event_type": "Seats Added",
            "properties": {"seats": 3, "plan": "team"},
        }
    ]
    assert sink.received == []  # a dry run sends nothing
    journey.shot("test-mapping")

    # Send test event: it reaches the sink, and the sink's answer is shown.
    page.click("#send-test-event")
    expect(page.locator("#test-event-outcome")).to_have_text("delivered")
    expect(page.locator("#test-event-status")).to_have_text("200")
    assert json.loads(page.locator("#test-event-response-body").inner_text()) == {"accepted": 1}
    expect(page.locator("#trigger-verdict")).to_contain_text("matches")
    [test_request] = sink.received
    assert test_request.path == "/v1/ingest"
    assert test_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [item["transaction_id"] for item in test_request.json()] == ["test-mapping-0001"]
    assert not Delivery.objects.exists()  # a test send records no delivery
    journey.shot("test-event-sent")

    # Events through the Tracking API with the source's write key: five for a known customer,
    # then one for a customer Metronome does not know yet (400: the delivery fails for good).
    good = scenario.send_events(live_server.url, source, 5)
    wait_until(lambda: scenario.statuses(destination) == {"delivered": 5}, message="5 delivered")
    [bad] = scenario.send_events(
        live_server.url, source, 1, prefix="late", context={"groupId": UNKNOWN_CUSTOMER}
    )
    wait_until(
        lambda: scenario.statuses(destination) == {"delivered": 5, "failed": 1},
        message="the late event's delivery failed",
    )

    # The delivery log lists them all, newest first, with status badges.
    journey.visit("/admin/destinations/delivery/")
    rows = results(page)
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text(bad)
    for message_id in good:
        expect(page.locator("#result_list")).to_contain_text(message_id)
    expect(page.locator("#result_list span.badge.badge-delivered")).to_have_count(5)
    expect(page.locator("#result_list span.badge.badge-failed")).to_have_count(1)
    journey.shot("delivery-log")

    # Filters by status.
    page.click("#filter-status-failed")
    expect(page).to_have_url(f"{live_server.url}/admin/destinations/delivery/?status=failed")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(bad)
    expect(rows.locator("span.badge.badge-failed")).to_have_count(1)
    expect(rows).to_contain_text("BAD_REQUEST")
    journey.shot("delivery-log-failed")
    page.click("#filter-status-delivered")
    expect(rows).to_have_count(5)
    expect(page.locator("#result_list span.badge.badge-delivered")).to_have_count(5)
    expect(page.locator("#result_list")).not_to_contain_text(bad)
    journey.check()
    page.click("#filter-status-all")
    expect(rows).to_have_count(6)
    journey.check()

    # Search by an exact messageId.
    page.fill("#searchbar", good[3])
    page.press("#searchbar", "Enter")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(good[3])
    journey.check()

    # The failed delivery: what was sent, what came back.
    failed = Delivery.objects.get(destination=destination, status="failed")
    journey.visit("/admin/destinations/delivery/?status=failed")
    rows.first.locator("a").first.click()
    at(page, f"/admin/destinations/delivery/{failed.pk}/change/")
    expect(page.locator("#delivery-error")).to_contain_text("BAD_REQUEST")
    expect(page.locator("#you-sent")).to_contain_text(UNKNOWN_CUSTOMER)
    expect(page.locator("#request-sample")).to_contain_text(f"POST {sink.url}/v1/ingest")
    expect(page.locator("#request-sample")).to_contain_text(f"Bearer {MASK}")
    expect(page.locator("#response-sample")).to_contain_text("HTTP 400")
    expect(page.locator("#response-sample")).to_contain_text("is not a Metronome customer")
    expect(page.locator("#attempts tbody tr")).to_have_count(1)
    expect(page.locator("#retry-delivery")).to_be_visible()
    journey.shot("failed-delivery")

    # The customer is set up in Metronome; retry the failed delivery from the log.
    metronome.known_customers.add(UNKNOWN_CUSTOMER)
    journey.visit("/admin/destinations/delivery/?status=failed")
    page.check(f"input[name=_selected_action][value='{failed.pk}']")
    page.select_option("select[name=action]", "retry_selected")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Queued 1 replay.")
    journey.check()
    wait_until(
        lambda: Delivery.objects.filter(replay_of=failed, status="delivered").exists(),
        message="the replay is delivered",
    )
    replay = Delivery.objects.get(replay_of=failed)
    assert replay.event_id == failed.event_id

    # The replay is a new delivery, delivered; the original stays failed and points to it.
    journey.visit("/admin/destinations/delivery/?replay=yes")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(bad)
    expect(rows.locator("span.badge.badge-delivered")).to_have_count(1)
    journey.check()
    rows.first.locator("a").first.click()
    at(page, f"/admin/destinations/delivery/{replay.pk}/change/")
    expect(page.locator("#delivery-summary span.badge.badge-delivered")).to_be_visible()
    expect(page.locator("#replay-of")).to_contain_text(f"delivery {failed.pk}")
    expect(page.locator("#response-sample")).to_contain_text("HTTP 200")
    expect(page.locator("#response-sample")).to_contain_text('"accepted": 1')
    expect(page.locator("#attempts tbody tr")).to_have_count(1)
    expect(page.locator("#attempts tbody tr")).to_contain_text("HTTP 200")
    journey.shot("retried-delivery")
    journey.visit(f"/admin/destinations/delivery/{failed.pk}/change/")
    expect(page.locator("#delivery-summary span.badge.badge-failed")).to_be_visible()
    expect(page.locator("#replays")).to_contain_text(f"Delivery {replay.pk}")

    # The destination's health: six delivered (one a replay), one failed, the latest error.
    journey.visit(f"/admin/destinations/destination/{destination.pk}/change/")
    expect(page.locator("#health-delivered strong")).to_have_text("6")
    expect(page.locator("#health-failed strong")).to_have_text("1")
    expect(page.locator("#health-retrying strong")).to_have_text("0")
    expect(page.locator("#health-p95 strong")).to_contain_text(" s")
    expect(page.locator("#health-chart")).to_be_visible()
    expect(page.locator("#failing-since")).to_have_count(0)  # a refused event is not an outage
    expect(page.locator("#latest-error")).to_contain_text("BAD_REQUEST")
    journey.shot("destination-health")

    # Metronome got every event once, each with the token the operator typed.
    accepted = [item["transaction_id"] for item in sink.items()]
    assert sorted(accepted) == sorted(["test-mapping-0001", *good, bad])
    assert {r.headers["Authorization"] for r in sink.received} == {f"Bearer {TOKEN}"}
    assert journey.checked_pages >= 20
