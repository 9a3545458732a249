"""Issue 20's journey in a real browser: an admin writes a transformation that redacts personal
data, tests it on a recent event of the source with what the webhook's mapping would send,
attaches it to the webhook, and sees the next event delivered transformed, the delivery page
naming the version that made it.

Chromium drives the live server's admin; a real Celery worker routes and delivers. Screenshots
go to test-results/screenshots/transformation/.
"""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from destinations.models import Delivery, Transformation
from ingest.models import Source
from tests.browser.conftest import SCREENSHOTS
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import Sink

PASSWORD = "transform-journey-pw-1"
EMAIL = "ada.lovelace@example.com"
# A RudderStack transformation, as RudderStack documents them; it runs here unchanged.
REDACT_PII = """export function transformEvent(event, metadata) {
  const meta = metadata(event);
  if (event.properties && event.properties.email) {
    event.properties.email = "[redacted]";
  }
  log("redacted an event of", meta.sourceName);
  return event;
}"""


def post_order(base_url: str, source: Source, message_id: str) -> None:
    order = {
        "type": "track",
        "event": "Order Completed",
        "userId": "user-1",
        "messageId": message_id,
        "properties": {"total": 42, "email": EMAIL},
    }
    answer = httpx.post(f"{base_url}/v1/track", json=order, auth=(source.write_key, ""))
    assert answer.json() == {"success": True}


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"{name}.png", full_page=True)


@pytest.fixture
def folder() -> Path:
    folder = SCREENSHOTS / "transformation"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.mark.timeout(180)
def test_an_admin_writes_tests_and_attaches_a_transformation_and_its_output_is_delivered(
    live_server, page, folder, django_user_model, source: Source, sinks, start_worker
):
    sink: Sink = sinks()
    hook = scenario.webhook(source, sink.url)
    start_worker()
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    base = live_server.url
    post_order(base, source, "before-1")  # the recent event the code is tried on
    wait_until(lambda: scenario.statuses(hook) == {"delivered": 1}, message="first delivered")
    assert sink.items()[0]["properties"]["email"] == EMAIL  # untransformed, as yet

    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("ops")

    # Write it.
    page.goto(f"{base}/admin/destinations/transformation/add/")
    page.fill("#id_name", "Redact PII")
    page.fill("#id_code", REDACT_PII)
    shot(page, folder, "01-write")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("Redact PII")
    transformation = Transformation.objects.get()
    assert transformation.current_version.number == 1

    # Test it on the source's recent event, with what the webhook's mapping would send.
    page.click("#test-transformation-link")
    page.select_option("#id_source", label=source.name)
    page.click("#list-events")
    page.select_option("#recent-event", index=1)
    page.select_option("#id_destination", label=hook.name)
    page.click("#run-transformation")
    expect(page.locator("#output-0-event")).to_contain_text('"email": "[redacted]"')
    expect(page.locator("#trial-console")).to_contain_text(f"redacted an event of {source.name}")
    expect(page.locator("#trial-elapsed")).to_contain_text("ms")
    mappings = page.locator("#output-0-mappings")
    expect(mappings).to_contain_text("taken")
    expect(mappings).to_contain_text("[redacted]")
    expect(mappings).not_to_contain_text(EMAIL)
    shot(page, folder, "02-test")

    # Attach it to the webhook.
    page.goto(f"{base}/admin/destinations/destination/{hook.pk}/change/")
    group = page.locator("#transformation_links-group")
    group.locator(".add-row a").click()
    page.select_option("#id_transformation_links-0-transformation", label="Redact PII")
    shot(page, folder, "03-attach")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert list(hook.transformation_links.values_list("transformation", flat=True)) == [
        transformation.pk
    ]

    # The next event goes out transformed, and its delivery names the version.
    post_order(base, source, "after-1")
    wait_until(lambda: scenario.statuses(hook) == {"delivered": 2}, message="second delivered")
    (after,) = [item for item in sink.items() if item["messageId"] == "after-1"]
    assert after["properties"] == {"total": 42, "email": "[redacted]"}
    delivery = Delivery.objects.get(event__message_id="after-1")
    assert delivery.transformed_by == [transformation.current_version.pk]
    page.goto(f"{base}/admin/destinations/delivery/{delivery.pk}/change/")
    expect(page.locator("#content")).to_contain_text("Redact PII v1")
    expect(page.locator("#content")).to_contain_text("[redacted]")
    shot(page, folder, "04-delivered")
