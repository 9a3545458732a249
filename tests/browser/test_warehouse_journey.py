"""Issue 31's journey in a real browser: an operator adds a PostgreSQL warehouse from the
catalog, tests its connection, sends events, finds their tables in the schema registry, sees
a value discarded, widens its column and reloads the range, which fills it.

Chromium drives the live server's admin; a real Celery worker routes and loads. Screenshots go
to test-results/screenshots/warehouse/; no page shows the connection URL's password.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from destinations.models import Destination
from ingest.models import Source
from tests.browser.conftest import SCREENSHOTS
from tests.destinations.delivery.conftest import wait_until
from tests.warehouse.conftest import Warehouse, warehouse  # noqa: F401

PASSWORD = "warehouse-journey-pw-1"
DATABASE_PASSWORD = "not-shown-pw-7"  # the server's trust ignores it; no page may show it


def order(number: int, total) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": f"user-{number}",
        "messageId": f"order-{number}",
        "properties": {"total": total, "currency": "EUR"},
    }


class Journey:
    def __init__(self, page: Page, base_url: str, folder: Path) -> None:
        self.page, self.base_url, self.folder, self.step = page, base_url, folder, 0

    def visit(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.check()

    def check(self) -> None:
        self.page.wait_for_load_state()
        html = self.page.content()
        assert DATABASE_PASSWORD not in html, f"the password is in the page at {self.page.url}"
        assert "Server Error" not in html, self.page.url

    def shot(self, name: str) -> None:
        self.check()
        self.step += 1
        self.page.screenshot(path=self.folder / f"{self.step:02d}-{name}.png", full_page=True)


@pytest.fixture
def folder() -> Path:
    folder = SCREENSHOTS / "warehouse"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


def totals(loaded_into: Warehouse) -> dict:
    try:
        rows = loaded_into.rows("order_completed", schema="test_app")
    except Exception:  # not made yet
        return {}
    return {row["id"]: row["total"] for row in rows}


@pytest.mark.timeout(240)
def test_an_operator_adds_a_warehouse_widens_a_column_and_reloads_the_discarded_values(
    live_server,
    page,
    folder,
    django_user_model,
    source: Source,
    api,
    start_worker,
    warehouse: Warehouse,  # noqa: F811 (the fixture imported above)
):
    start_worker()  # boots while the browser works through the first steps
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    journey = Journey(page, live_server.url, folder)
    journey.visit("/admin/login/?next=/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("ops")

    # The catalog offers the warehouse; add it, its URL in a password field.
    journey.visit("/admin/destinations/destination/catalog/")
    expect(page.locator("#kind-postgres_warehouse")).to_contain_text("PostgreSQL warehouse")
    page.click("#add-postgres_warehouse")
    expect(page.locator("#id_connection_url")).to_have_attribute("type", "password")
    page.fill("#id_name", "Warehouse")
    page.fill(
        "#id_connection_url", warehouse.url.replace("postgres@", f"postgres:{DATABASE_PASSWORD}@")
    )
    page.fill("#id_load_interval", "30")
    page.get_by_label(source.name).check()
    journey.shot("add-warehouse")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("Added the preset mapping")
    page.click("#test-connection")
    expect(page.locator(".messagelist")).to_contain_text("allowed to create schema")
    journey.shot("connection-tested")
    mapping = Destination.objects.get(name="Warehouse").mappings.get()
    assert mapping.flush_interval == 30
    mapping.batch_size = 3  # a full batch loads at once: the journey need not wait 30 s
    mapping.save()

    # Send events: the first three make `total` a bigint; 2.5 in the next three is discarded.
    sent_at = timezone.now()
    assert api.post("/v1/batch", json={"batch": [order(n, n) for n in (1, 2, 3)]}).is_success
    wait_until(lambda: len(totals(warehouse)) == 3, timeout=60, message="the first load")
    later = [order(4, 4), order(5, 2.5), order(6, 6)]
    assert api.post("/v1/batch", json={"batch": later}).is_success
    wait_until(lambda: len(totals(warehouse)) == 6, timeout=60, message="the second load")
    assert totals(warehouse)["order-5"] is None

    # The registry: the tables, then order_completed with its columns and the discard.
    journey.visit("/admin/warehouse/table/")
    expect(page.locator("#result_list")).to_contain_text("order_completed")
    expect(page.locator("#result_list")).to_contain_text("tracks")
    journey.shot("registry")
    page.locator("#result_list a", has_text="order_completed").click()
    expect(page.locator("body")).to_contain_text("type_mismatch")
    expect(page.locator("body")).to_contain_text("bigint")
    journey.shot("table-with-a-discard")

    # Widen total to double precision, then reload the range the events came in.
    page.select_option("#widen select[name=column]", "total")
    page.select_option("#widen select[name=to]", "double precision")
    page.click("#widen-button")
    expect(page.locator(".messagelist")).to_contain_text("is now double precision (was bigint)")
    local = timezone.localtime
    page.fill("#id_start", local(sent_at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end", local(sent_at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#reload-button")
    expect(page.locator(".messagelist")).to_contain_text(re.compile(r"Queued 6 deliveries"))
    wait_until(lambda: totals(warehouse).get("order-5") == 2.5, timeout=60, message="the reload")
    assert sorted(totals(warehouse).values()) == [1.0, 2.0, 2.5, 3.0, 4.0, 6.0]
    assert warehouse.discards(schema="test_app") == []
    page.reload()
    expect(page.locator("body")).not_to_contain_text("type_mismatch")
    journey.shot("reloaded")
