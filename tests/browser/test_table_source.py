"""Issue 18's journey in a real browser: an operator adds a table source reading a warehouse
table of customer scores, tests its connection, previews the events its rows would become,
runs it, and follows the "Sales Prediction" events into the source's event debugger and the
delivery log, up to a webhook that receives them.

Chromium drives the live server's admin; a real Celery worker carries out the run and the
deliveries. Screenshots go to test-results/screenshots/table-source/, and no HTML document
the browser is served may contain the warehouse's connection URL.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from destinations.models import Delivery
from ingest.models import Event, Source
from tables.models import Run, TableSource
from tests.browser.conftest import SCREENSHOTS
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import Sink
from tests.tables.conftest import Warehouse, warehouse  # noqa: F401

PASSWORD = "table-journey-pw-1"
WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SCORES = [
    (1, "ada@example.com", Decimal("0.9100"), "high", WHEN),
    (2, "grace@example.com", Decimal("0.2500"), "low", WHEN),
    (3, "linus@example.com", Decimal("0.5000"), "mid", WHEN),
]
EMAILS = [email for _, email, *_ in SCORES]


class Steps:
    """Numbered screenshots, and checks that no HTML document served holds a secret: each is
    read before the browser moves on from it, while Chromium still holds its body."""

    def __init__(self, page: Page, folder: Path, secrets: list[str]) -> None:
        self.page = page
        self.folder = folder
        self.secrets = secrets
        self.served: list[Response] = []
        self.checked = 0
        self.shots = 0
        page.on("response", self.note)

    def note(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.served.append(response)

    def shot(self, name: str) -> None:
        self.check()
        self.shots += 1
        self.page.screenshot(path=self.folder / f"{self.shots:02d}-{name}.png", full_page=True)

    def check(self) -> None:
        self.page.wait_for_load_state()
        bodies = [self.page.content()]
        for response in self.served:
            assert response.status < 500, f"{response.status} at {response.url}"
            if not 300 <= response.status < 400:
                bodies.append(response.text())
        for body in bodies:
            for secret in self.secrets:
                assert secret not in body, f"the connection URL was served at {self.page.url}"
        self.checked += len(self.served)
        self.served.clear()


@pytest.fixture
def folder() -> Path:
    """This journey's screenshots, in a folder of its own."""
    folder = SCREENSHOTS / "table-source"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.mark.timeout(180)
def test_an_operator_turns_a_warehouse_table_into_delivered_events(
    live_server,
    page,
    folder,
    django_user_model,
    source: Source,
    sinks,
    start_worker,
    warehouse: Warehouse,  # noqa: F811 (the fixture imported above)
):
    warehouse.scores(SCORES)
    sink: Sink = sinks()
    hook = scenario.webhook(source, sink.url)
    start_worker()  # boots while the browser works through the first steps
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    database = warehouse.url.rsplit("/", 1)[1]
    steps = Steps(page, folder, [warehouse.url, database])
    base = live_server.url

    # Log in.
    page.goto(f"{base}/admin/login/?next=/admin/")
    steps.check()
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("ops")
    steps.check()

    # Add a table source: the customer scores become "Sales Prediction" events of the source.
    page.goto(f"{base}/admin/tables/tablesource/add/")
    steps.check()
    # Fold the navigation sidebar (the browser remembers) for the run and delivery columns.
    page.click("#toggle-nav-sidebar")
    page.fill("#id_name", "Sales predictions")
    page.select_option("#id_source", label=source.name)
    page.fill("#id_connection_url", warehouse.url)
    page.fill("#id_table", "customer_scores")
    page.fill("#id_key_columns", "customer_id")
    page.fill("#id_identity_column", "email")
    page.fill("#id_event_name", "Sales Prediction")
    steps.shot("add")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    table = TableSource.objects.get()
    assert table.connection_url == warehouse.url
    expect(page.locator("#id_connection_url")).to_have_value("")
    expect(page.locator("#no-runs")).to_be_visible()
    steps.check()

    # Test connection.
    page.click("#test-connection")
    expect(page.locator(".messagelist")).to_contain_text("Test connection: connected: PostgreSQL")
    steps.shot("connection-tested")

    # Preview: the rows, and the event each would become.
    page.click("#preview-link")
    rows = page.locator("#preview-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("ada@example.com")
    expect(rows.first).to_contain_text("0.91")
    expect(rows.first.locator(".preview-event")).to_contain_text('"event": "Sales Prediction"')
    expect(rows.first.locator(".preview-event")).to_contain_text('"churn_score": 0.91')
    expect(page.locator("#preview-problem")).to_have_count(0)
    steps.shot("preview")
    assert not Event.objects.exists()  # a preview sends nothing

    # Run now; the worker carries it out, and the history shows it on a reload.
    page.locator(".breadcrumbs a", has_text="Sales predictions").click()
    expect(page).to_have_url(f"{base}/admin/tables/tablesource/{table.pk}/change/")
    steps.check()
    page.click("#run-now")
    expect(page.locator(".messagelist")).to_contain_text("Queued a run of “Sales predictions”")
    steps.check()
    wait_until(
        lambda: Run.objects.filter(status__in=["succeeded", "failed"]).exists(),
        message="the run finished",
    )
    page.reload()
    run = page.locator("#runs tbody tr")
    expect(run).to_have_count(1)
    expect(run.locator(".run-status")).to_have_text("succeeded")
    expect(run.locator(".run-events")).to_have_text("3")
    steps.shot("run-history")
    page.click("#all-runs")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("succeeded")
    steps.shot("runs")
    page.goto(f"{base}/admin/tables/tablesource/")
    listed = page.locator("#result_list tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("manual")
    expect(listed.locator("span.badge.badge-delivered")).to_have_text("succeeded")
    steps.shot("table-sources")

    # The source's event debugger lists the three events.
    page.goto(f"{base}/admin/ingest/source/{source.pk}/debugger/")
    events = page.locator("#debugger-table tr.debugger-event")
    expect(events).to_have_count(3)
    for email in EMAILS:
        expect(page.locator("#debugger-table")).to_contain_text(email)
    expect(events.first).to_contain_text("Sales Prediction")
    steps.shot("debugger")

    # The webhook gets them; the delivery log shows them delivered.
    wait_until(lambda: scenario.statuses(hook) == {"delivered": 3}, message="3 delivered")
    page.goto(f"{base}/admin/destinations/delivery/")
    deliveries = page.locator("#result_list tbody tr")
    expect(deliveries).to_have_count(3)
    expect(deliveries.first).to_contain_text("Sales Prediction")
    expect(page.locator("#result_list span.badge.badge-delivered")).to_have_count(3)
    steps.shot("delivery-log")
    delivered = Delivery.objects.filter(destination=hook).select_related("event").first()
    page.goto(f"{base}/admin/destinations/delivery/{delivered.pk}/change/")
    expect(page.locator("#delivery-summary span.badge.badge-delivered")).to_be_visible()
    expect(page.locator("#you-sent")).to_contain_text(delivered.event.message_id)
    steps.shot("delivery")

    received = sink.items()
    assert sorted(item["userId"] for item in received) == sorted(EMAILS)
    assert {item["event"] for item in received} == {"Sales Prediction"}
    assert all(re.fullmatch(r"table-[0-9a-f]{32}", item["messageId"]) for item in received)
    assert steps.checked >= 9
