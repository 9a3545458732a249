"""Issue 19's acceptance in a real browser: on an empty installation an operator logs in, is
shown the getting-started path and follows it (a source and its key, a webhook from the
catalog, a test event, the event in the debugger and the delivery log), then sends events
with analytics-python. At 1440 x 900 the delivery log shows at least 20 deliveries without
scrolling; the overview shows what the database holds; no link of the overview or of getting
started leads to a 404 or an error.

Chromium drives the live server's admin; a real Celery worker delivers to a local sink. The
overview, getting started and the delivery log are saved to docs/screenshots/ for the README
and docs/admin.md ("Screenshots").
"""

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from django.conf import settings
from playwright.sync_api import Page, Response, expect
from segment.analytics import Client

from destinations.models import Delivery, Destination
from ingest.models import Event, Source
from project.getting_started import TEST_EVENT
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import Sink

PASSWORD = "operator-home-pw-1"
SDK_EVENTS = 40
VIEWPORT_HEIGHT = 900
README_SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


class Served:
    """Every HTML document the browser was served, checked for server errors as it goes."""

    def __init__(self, page: Page) -> None:
        self.documents: list[Response] = []
        page.on("response", self.note)

    def note(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents.append(response)

    def check(self) -> None:
        for response in self.documents:
            assert response.status < 500, f"{response.status} at {response.url}"
            assert response.status != 404, f"404 at {response.url}"
        self.documents.clear()


@pytest.mark.timeout(300)
def test_an_operator_goes_from_an_empty_installation_to_a_full_delivery_log(
    live_server, page: Page, django_user_model, sinks, start_worker
):
    sink: Sink = sinks()
    start_worker()  # boots while the browser works through the first steps
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    base = live_server.url
    served = Served(page)
    README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # Log in: the home page is getting started, nothing being configured.
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#getting-started")).to_be_visible()
    expect(page.locator("#overview-sources")).to_contain_text("No source yet")
    expect(page.locator("#api-docs-link")).to_have_text("API docs")
    served.check()

    # 1. A source and its write key, with snippets for this server.
    page.click("#create-source")
    expect(page.locator(".messagelist")).to_contain_text("Created the source “My app”")
    source = Source.objects.get()
    expect(page.locator("#getting-started-key")).to_have_text(source.write_key)
    expect(page.locator("#snippet-curl")).to_contain_text(f"curl -s {base}/v1/track")
    expect(page.locator("#snippet-curl")).to_contain_text(f"-u '{source.write_key}:'")
    expect(page.locator("#snippet-python")).to_contain_text(f'analytics.host = "{base}"')
    expect(page.locator("#snippet-node")).to_contain_text(f'host: "{base}"')
    expect(page.locator("#snippet-js")).to_contain_text(f'cdnURL: "{base}"')
    expect(page.locator("#step-source")).to_have_class("done")
    page.goto(f"{base}/admin/getting-started/")
    page.screenshot(path=README_SCREENSHOTS / "getting-started.png", full_page=True)
    served.check()

    # 2. A webhook from the catalog, its mapping pointed at the local sink.
    page.click("#open-catalog")
    page.click("#add-webhook")
    page.fill("#id_name", "Order hook")
    page.get_by_label(source.name).check()
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    destination = Destination.objects.get()
    page.click("#new-mapping")
    page.click(f"#action-{destination.pk}-send")
    fields = json.loads(page.locator("#id_fields").input_value())
    page.fill("#id_fields", json.dumps(fields | {"url": f"{sink.url}/hook"}, indent=2))
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert destination.mappings.get().fields["url"] == f"{sink.url}/hook"
    served.check()

    # 3. The test event, through the Tracking API's path; the worker delivers it.
    page.goto(f"{base}/admin/getting-started/")
    expect(page.locator("#step-destination")).to_have_class("done")
    page.click("#send-test-event")
    expect(page.locator(".messagelist")).to_contain_text(f"Sent a “{TEST_EVENT}”")
    test_event = Event.objects.get(name=TEST_EVENT)
    delivered = Delivery.objects.filter(event_id=test_event.pk, status="delivered")
    wait_until(delivered.exists, message="the test event is delivered")
    assert [request.json()["event"] for request in sink.received] == [TEST_EVENT]
    served.check()

    # 4. It is in the source's event debugger and in the delivery log.
    page.click("#step-debugger-link")
    expect(page.locator("#debugger-table")).to_contain_text(TEST_EVENT)
    page.go_back()
    page.click("#sent-deliveries-link")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("span.badge.badge-delivered")).to_have_count(1)
    expect(rows.locator(".short-id").first).to_have_attribute("title", test_event.message_id)
    served.check()

    # Events from the official analytics-python client fill the log.
    sent = send_with_analytics_python(base, source.write_key)
    total = SDK_EVENTS + 1
    assert set(sent) <= set(Event.objects.values_list("message_id", flat=True))
    deliveries = Delivery.objects.filter(destination=destination)
    wait_until(
        lambda: deliveries.filter(status="delivered").count() == total,
        message=f"{total} deliveries delivered",
    )

    # At 1440 x 900 the log is dense: 20 deliveries or more in view, one line each.
    page.goto(f"{base}/admin/destinations/delivery/")
    expect(rows).to_have_count(total)
    in_view = rows_in_view(page)
    assert len(in_view) >= 20, f"{len(in_view)} deliveries in view"
    assert max(height for _, height in in_view) < 32, "a row wraps"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440, "the log scrolls sideways"
    expect(page.locator("#nav-sidebar")).to_be_hidden()
    page.screenshot(path=README_SCREENSHOTS / "delivery-log.png")
    served.check()

    # The attempt log and the events list are dense too.
    for path in ("/admin/destinations/deliveryattempt/", "/admin/ingest/event/"):
        page.goto(f"{base}{path}")
        assert len(rows_in_view(page)) >= 20, path
    served.check()

    # The overview shows what the database holds, once the tallies have caught up.
    page.goto(f"{base}/admin/")
    expect(page.locator("#getting-started")).to_have_count(0)  # a destination exists
    source_row = page.locator(f"#source-{source.pk}")
    destination_row = page.locator(f"#destination-{destination.pk}")
    received = Event.objects.filter(source=source).count()
    assert received == total
    wait_until(
        showing(page, {source_row.locator("a.received"): received}),
        message="the overview counts the events received",
    )
    wait_until(
        showing(page, {destination_row.locator("a.delivered"): total}),
        message="the overview counts the deliveries",
    )
    expect(source_row.locator("a.rejected")).to_have_text("0")
    expect(destination_row.locator("a.failed")).to_have_text("0")
    expect(destination_row.locator("a.retrying")).to_have_text("0")
    expect(destination_row.locator("a.pending")).to_have_text("0")
    expect(destination_row.locator("a.p95")).to_contain_text(" s")
    expect(page.locator("#backlog-unrouted")).to_have_text("0")
    expect(page.locator("#backlog-due")).to_have_text("0")
    expect(destination_row.locator("svg.spark-chart rect.delivered")).not_to_have_count(0)
    page.screenshot(path=README_SCREENSHOTS / "overview.png", full_page=True)
    served.check()

    # Every link of the overview and of getting started answers, none with a 404 or an error.
    crawled = crawl(page, base, ["/admin/", "/admin/getting-started/"])
    assert {"/api/docs/", "/admin/destinations/delivery/", "/admin/ingest/event/"} <= {
        urlparse(url).path for url in crawled
    }


def send_with_analytics_python(base: str, write_key: str) -> list[str]:
    """SDK_EVENTS track events, as an app would send them; returns their messageIds."""
    errors = []
    client = Client(
        write_key, host=base, on_error=lambda error, batch: errors.append(error), upload_size=10
    )
    sent = []
    for number in range(SDK_EVENTS):
        success, message = client.track(
            f"user-{number % 7}", "Order Completed", {"total": number, "currency": "EUR"}
        )
        assert success
        sent.append(message["messageId"])
    client.flush()
    client.shutdown()
    assert errors == []
    return sent


def rows_in_view(page: Page) -> list[tuple[float, float]]:
    """(top, height) of the list's rows wholly inside the viewport, the page unscrolled."""
    boxes = [row.bounding_box() for row in page.locator("#result_list tbody tr").all()]
    return [
        (box["y"], box["height"])
        for box in boxes
        if box and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT_HEIGHT
    ]


def showing(page: Page, figures: dict) -> Callable[[], bool]:
    """A condition for wait_until: after a reload, each locator reads its number."""

    def check() -> bool:
        page.reload()
        return all(locator.inner_text() == f"{n:,}" for locator, n in figures.items())

    return check


def crawl(page: Page, base: str, starts: list[str]) -> set[str]:
    """GET every same-origin link of these pages (the browser's session); returns them."""
    links: set[str] = set()
    for start in starts:
        page.goto(f"{base}{start}")
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        links |= {urldefrag(urljoin(page.url, href)).url for href in hrefs}
    crawled = {url for url in links if url.startswith(base)}
    for url in sorted(crawled):
        response = page.request.get(url)
        assert response.status < 400, f"{response.status} at {url}"
    return crawled
