"""Issue 32's journey in a real browser: an operator adds a Slack destination from the catalog,
its incoming webhook URL typed as the secret it is, tests the connection, tries the preset
mapping on a pasted event, sends a test message, and sees a tracked event posted.

Chromium drives the live server's admin; a local sink stands in for Slack's webhook and
answers as Slack does (400 "no_text" to a message without text). The webhook URL is the
credential: no page the browser is shown may contain it. Screenshots go to
test-results/screenshots/slack/.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from destinations.models import Destination
from infra.encryption import MASK
from ingest.models import Source
from tests.browser.conftest import SCREENSHOTS
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import Received, Sink

PASSWORD = "slack-journey-pw-1"
# Distinctive, so that finding it anywhere in a page is certainly a leak.
HOOK_PATH = "/services/T0JOURNEY/B0JOURNEY/q8Zr3kVw1xYp5sLm2nTb7cHd"
SIGN_UP = {
    "type": "track",
    "event": "Signed Up <!channel>",
    "messageId": "slack-journey-0001",
    "userId": "user-42",
    "timestamp": "2026-03-01T12:00:00.000Z",
}


def slack_webhook(request: Received) -> tuple[int, dict[str, str], bytes]:
    """Slack's answers: "ok", or 400 "no_text" for a message without text."""
    if request.path != HOOK_PATH:
        return 404, {}, b"no_service"
    if not request.json().get("text"):
        return 400, {}, b"no_text"
    return 200, {}, b"ok"


class Journey:
    """The page, checked after every step for the webhook URL, with numbered screenshots."""

    def __init__(self, page: Page, base_url: str, folder: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.folder = folder
        self.step = 0

    def visit(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.check()

    def check(self) -> None:
        self.page.wait_for_load_state()
        html = self.page.content()
        assert HOOK_PATH not in html, f"the webhook URL is in the page at {self.page.url}"
        assert "Server Error" not in html, self.page.url

    def shot(self, name: str) -> None:
        self.check()
        self.step += 1
        self.page.screenshot(path=self.folder / f"{self.step:02d}-{name}.png", full_page=True)


def at(page: Page, path: str) -> None:
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$"))


@pytest.fixture
def folder() -> Path:
    folder = SCREENSHOTS / "slack"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.mark.timeout(180)
def test_an_operator_adds_slack_from_the_catalog_tests_its_mapping_and_a_message_is_posted(
    live_server, page, folder, django_user_model, source: Source, sinks, start_worker
):
    sink: Sink = sinks(answer=slack_webhook)
    webhook_url = sink.url + HOOK_PATH
    start_worker()  # boots while the browser works through the first steps
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    journey = Journey(page, live_server.url, folder)

    journey.visit("/admin/login/?next=/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("ops")

    # The catalog offers Slack, with its preset.
    journey.visit("/admin/destinations/destination/catalog/")
    card = page.locator("#kind-slack")
    expect(card).to_contain_text("Slack")
    expect(card).to_contain_text("Post track events")
    journey.shot("catalog")

    # Add it: the webhook URL goes in a password field, the one setting there is.
    page.click("#add-slack")
    at(page, "/admin/destinations/destination/add/")
    expect(page.locator("#id_webhook_url")).to_have_attribute("type", "password")
    page.fill("#id_name", "Alerts")
    page.fill("#id_webhook_url", webhook_url)
    page.get_by_label(source.name).check()
    journey.shot("add-slack")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("Added the preset mapping")
    destination = Destination.objects.get(name="Alerts")
    assert destination.kind == "slack"
    assert destination.config()["webhook_url"] == webhook_url
    expect(page.locator("#id_webhook_url")).to_have_attribute("placeholder", MASK)
    expect(page.locator("#id_webhook_url")).to_have_value("")
    journey.check()

    # Test connection: an empty message, which a live webhook refuses with 400.
    page.click("#test-connection")
    expect(page.locator(".messagelist")).to_contain_text("HTTP 400: credentials accepted")
    assert [(r.path, r.json(), r.status) for r in sink.received] == [(HOOK_PATH, {}, 400)]
    journey.shot("connection-tested")

    # The preset mapping, tried on a pasted event: the dry run masks the webhook URL whole
    # and escapes the event's Slack markup.
    mapping = destination.mappings.get()
    assert (mapping.name, mapping.action, mapping.trigger) == (
        "Post track events",
        "post_message",
        'type = "track"',
    )
    journey.visit(f"/admin/destinations/mapping/{mapping.pk}/test/")
    page.fill("#test-mapping-event", json.dumps(SIGN_UP, indent=2))
    page.click("#dry-run")
    expect(page.locator("#trigger-verdict")).to_contain_text("The trigger matches this event")
    expect(page.locator("#dry-run-method")).to_have_text("POST")
    expect(page.locator("#dry-run-url")).to_have_text(MASK)
    text = "*Signed Up &lt;!channel&gt;* by user-42"
    assert json.loads(page.locator("#dry-run-body").inner_text()) == {"text": text}
    assert len(sink.received) == 1  # a dry run sends nothing
    journey.shot("dry-run")

    # Send test event: Slack posts it and answers "ok".
    page.click("#send-test-event")
    expect(page.locator("#test-event-outcome")).to_have_text("delivered")
    expect(page.locator("#test-event-status")).to_have_text("200")
    expect(page.locator("#test-event-response-body")).to_have_text("ok")
    expect(page.locator("#test-event-request-url")).to_have_text(MASK)
    assert sink.received[-1].json() == {"text": text}
    journey.shot("test-message-sent")

    # A track event through the Tracking API is posted by the worker.
    [message_id] = scenario.send_events(live_server.url, source, 1, prefix="slack")
    wait_until(lambda: scenario.statuses(destination) == {"delivered": 1}, message="posted")
    assert sink.received[-1].json() == {"text": "*Order Completed* by user-0"}

    # Its delivery page shows what was sent, the webhook URL masked.
    journey.visit(f"/admin/destinations/delivery/?q={message_id}")
    page.locator("#result_list tbody tr").first.locator("a").first.click()
    expect(page.locator("#request-sample")).to_contain_text(f"POST {MASK}")
    expect(page.locator("#response-sample")).to_contain_text("HTTP 200")
    journey.shot("delivery")
