"""The operator's home (issue 19): the overview as the admin's index, getting started, the
header's API docs, and the dense logs. The overview's figures are built here as the dataclasses
overview() returns, so each number and link can be checked; test_the_index_reads_the_real_figures
runs it on rows."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from destinations.admin.delivery_tags import span
from destinations.models import Delivery, Destination
from destinations.selectors import overview as figures
from destinations.selectors.overview import (
    COUNT_CAP,
    Backlog,
    DestinationHour,
    DestinationOverview,
    Overview,
    SourceHour,
    SourceOverview,
)
from ingest.models import Event, Source
from project.getting_started import TEST_EVENT
from tests.destinations.admin.factories import metronome, store_event
from tests.destinations.admin.log_scenario import listed

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
GETTING_STARTED = "/admin/getting-started/"
LOG = "/admin/destinations/delivery/"
EVENTS = "/admin/ingest/event/"
HOUR = datetime(2026, 12, 6, 10, tzinfo=UTC)
HOURS = [HOUR + timedelta(hours=n) for n in range(25)]


@pytest.fixture
def billing(source: Source) -> Destination:
    return metronome(source, "http://127.0.0.1:9")


@pytest.fixture
def shown(monkeypatch, source: Source, billing: Destination) -> Overview:
    """The figures the index is given: a busy source, a failing destination, a full backlog."""
    made = Overview(
        sources=[
            SourceOverview(
                source=source,
                received=12_345,
                rejected=7,
                rate_limited=0,
                hours=[
                    SourceHour(hour, received=n, rejected=n % 2) for n, hour in enumerate(HOURS)
                ],
            )
        ],
        destinations=[
            DestinationOverview(
                destination=billing,
                delivered=1_500,
                failed=3,
                retrying=COUNT_CAP,
                pending=42,
                p95_latency=timedelta(milliseconds=184),
                failing_since=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
                breaker_open=True,
                hours=[
                    DestinationHour(hour, delivered=n, failed=1) for n, hour in enumerate(HOURS)
                ],
            )
        ],
        backlog=Backlog(unrouted=COUNT_CAP, due=17, oldest_pending_age=timedelta(minutes=7)),
    )
    monkeypatch.setattr(figures, "overview", lambda now=None: made)
    return made


def html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def link(page: str, css_class: str) -> tuple[str, str]:
    """(href, text) of the overview's link of this class."""
    found = re.search(rf'<a class="{css_class}" href="([^"]*)">(.*?)</a>', page, re.S)
    assert found, f"no {css_class} link"
    return found.group(1).replace("&amp;", "&"), found.group(2).strip()


# --- The overview --------------------------------------------------------------------------


def test_the_index_shows_each_figure_linked_to_the_rows_it_counts(editor, shown, source, billing):
    page = html(editor, INDEX)

    assert link(page, "received") == (
        f"{EVENTS}?source__id__exact={source.pk}&received=24h",
        "12,345",
    )
    assert link(page, "rejected") == (
        f"/admin/ingest/source/{source.pk}/change/#source-activity",
        "7",
    )
    assert link(page, "rate-limited")[1] == "0"
    assert link(page, "debugger")[0] == f"/admin/ingest/source/{source.pk}/debugger/"
    on = f"{LOG}?destination={billing.pk}"
    assert link(page, "delivered") == (f"{on}&status=delivered&created=24h", "1,500")
    assert link(page, "failed") == (f"{on}&status=failed&created=24h", "3")
    assert link(page, "pending") == (f"{on}&queue=waiting", "42")
    assert link(page, "p95") == (
        f"/admin/destinations/destination/{billing.pk}/change/#destination-health",
        "0.184 s",
    )
    assert "2026-12-06 09:30 UTC" in link(page, "failing-since")[1]
    assert "open" in link(page, "breaker")[1]
    assert 'id="backlog-due" href="/admin/destinations/delivery/?queue=due">17<' in page
    assert ">7 min<" in page
    assert page.count('<svg class="spark-chart"') == 2


def test_counts_that_reached_the_cap_read_10000_plus(editor, shown):
    page = html(editor, INDEX)

    assert link(page, "retrying")[1] == "10,000+"
    assert 'id="backlog-unrouted" href="/admin/ingest/event/?routed=no">10,000+<' in page
    # A 24-hour tally is exact, never capped.
    assert link(page, "received")[1] == "12,345"


def test_a_viewer_sees_the_figures_but_no_debugger_nor_key(viewer, shown, source):
    page = html(viewer, INDEX)

    assert link(page, "received")[1] == "12,345"
    assert link(page, "retrying")[1] == "10,000+"
    assert 'class="debugger"' not in page
    assert source.write_key not in page


def test_the_stock_app_list_and_the_getting_started_link_stay(editor, shown):
    page = html(editor, INDEX)

    assert 'href="/admin/getting-started/" id="getting-started-link"' in page
    for model in ("ingest-source", "destinations-destination", "destinations-delivery"):
        assert f'id="{model}"' in page
    assert 'id="recent-actions-module"' in page


def test_besides_overview_the_index_makes_a_few_queries(
    editor, shown, django_assert_max_num_queries
):
    # Session, user, permissions (user's and groups'), the admin log; overview() is patched.
    with django_assert_max_num_queries(6):
        html(editor, INDEX)


def test_the_index_reads_the_real_figures_in_overviews_queries_plus_a_few(editor, source, billing):
    store_event(source, 1)
    with CaptureQueriesContext(connection) as alone:
        figures.overview()

    with CaptureQueriesContext(connection) as index:
        page = html(editor, INDEX)

    assert f'id="source-{source.pk}"' in page and f'id="destination-{billing.pk}"' in page
    assert 'id="getting-started"' not in page  # a destination exists
    assert len(index) <= len(alone) + 6


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (timedelta(milliseconds=184), "0.184 s"),
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=7, seconds=5), "7 min"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(days=2, hours=5), "2 d 5 h"),
    ],
)
def test_latencies_and_ages_read_in_the_unit_that_fits(value, shown):
    assert span(value) == shown


def test_getting_started_comes_first_while_no_destination_exists(editor, source):
    page = html(editor, INDEX)

    assert 'id="getting-started"' in page
    assert source.write_key in page


def test_a_user_of_no_role_sees_no_figures(db, django_user_model, client):
    user = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)

    page = html(client, INDEX)

    assert 'id="overview-sources"' not in page and 'id="getting-started"' not in page


# --- Getting started -----------------------------------------------------------------------


def test_getting_started_shows_the_key_and_snippets_for_this_server(editor, source):
    page = html(editor, GETTING_STARTED)

    assert f'<code id="getting-started-key">{source.write_key}</code>' in page
    assert 'data-copy="getting-started-key"' in page
    snippets = {key: snippet(page, key) for key in ("curl", "python", "node", "js")}
    assert "curl -s http://testserver/v1/track -u &#x27;" + source.write_key in snippets["curl"]
    assert f"analytics.write_key = &quot;{source.write_key}&quot;" in snippets["python"]
    assert "analytics.host = &quot;http://testserver&quot;" in snippets["python"]
    assert "host: &quot;http://testserver&quot;" in snippets["node"]
    assert "cdnURL: &quot;http://testserver&quot;" in snippets["js"]
    assert 'href="/admin/destinations/destination/catalog/"' in page
    assert f'href="/admin/ingest/source/{source.pk}/debugger/"' in page


def snippet(page: str, key: str) -> str:
    found = re.search(rf'<pre class="code" id="snippet-{key}">(.*?)</pre>', page, re.S)
    assert found, f"no {key} snippet"
    return found.group(1)


def test_a_viewer_gets_the_snippets_without_the_key(viewer, source):
    page = html(viewer, GETTING_STARTED)

    assert source.write_key not in page
    assert 'id="write-key-hidden"' in page
    assert "WRITE_KEY" in snippet(page, "curl")
    assert 'id="send-test-event"' not in page and 'id="open-catalog"' not in page
    assert f'href="/admin/ingest/event/?source__id__exact={source.pk}"' in page


def test_the_first_enabled_source_is_the_one_shown(editor, source):
    Source.objects.filter(pk=source.pk).update(enabled=False)
    other = Source.objects.create(name="Web")

    page = html(editor, GETTING_STARTED)

    assert other.write_key in page and source.write_key not in page


def test_on_an_empty_installation_an_editor_creates_a_source_with_a_button(editor):
    page = html(editor, GETTING_STARTED)
    assert 'id="create-source"' in page

    response = editor.post(reverse("admin:getting_started_source"), follow=True)

    created = Source.objects.get()
    assert created.name == "My app"
    assert created.write_key in response.content.decode()


def test_a_new_source_never_takes_the_name_of_a_disabled_one(editor):
    Source.objects.create(name="My app", enabled=False)

    editor.post(reverse("admin:getting_started_source"))

    assert Source.objects.get(enabled=True).name == "My app 2"


def test_the_test_event_button_stores_a_track_event_through_the_tracking_api(editor, source):
    response = editor.post(reverse("admin:getting_started_test_event"))

    event = Event.objects.get()
    assert (event.source, event.type, event.name) == (source, "track", TEST_EVENT)
    assert event.payload["receivedAt"] and event.routed_at is None  # the router takes it
    assert response.status_code == 302
    assert response["Location"] == f"{GETTING_STARTED}?sent={event.message_id}"
    page = html(editor, response["Location"])
    assert f'href="{LOG}?q={event.message_id}"' in page


def test_viewers_can_neither_send_a_test_event_nor_create_a_source(viewer, source):
    sent = viewer.post(reverse("admin:getting_started_test_event"))
    created = viewer.post(reverse("admin:getting_started_source"))

    assert (sent.status_code, created.status_code) == (403, 403)
    assert not Event.objects.exists() and Source.objects.count() == 1


def test_the_getting_started_actions_want_a_post(editor, source):
    assert editor.get(reverse("admin:getting_started_test_event")).status_code == 405
    assert editor.get(reverse("admin:getting_started_source")).status_code == 405


# --- The header's API docs -----------------------------------------------------------------


def test_the_header_links_to_the_api_docs_instead_of_a_missing_site(editor, shown):
    page = html(editor, INDEX)

    assert '<a href="/api/docs/" id="api-docs-link">API docs</a>' in page
    assert "View site" not in page


def test_the_api_docs_render_with_local_assets_only(client):
    page = html(client, "/api/docs/")

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in a for a in assets)
    assert all(a.startswith("/") for a in assets), assets  # nothing from a CDN
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"/api/schema/" in script.content
    bundle = next(a for a in assets if a.endswith("swagger-ui-bundle.js"))
    assert client.get(bundle).status_code == 200


# --- The dense logs ------------------------------------------------------------------------


def test_the_log_shows_long_ids_shortened_with_the_whole_id_to_copy(admin_client, source, billing):
    long_id = "3f2a9c1e-7d4b-4e0a-9b1c-5e6f7a8b9c0d"
    event = store_event(source, 1, messageId=long_id)
    Delivery.objects.create(
        event=event,
        event_received_at=event.received_at,
        mapping=billing.mappings.get(),
        destination=billing,
        created_at=event.received_at,
        next_attempt_at=event.received_at,
    )

    page = html(admin_client, LOG)

    assert f'title="{long_id}" data-copy-text="{long_id}">3f2a9c…8b9c0d</span>' in page
    assert "dense-log" in page and 'id="toggle-folded-sidebar"' in page
    assert 'id="toggle-nav-sidebar"' not in page  # folded here whatever other pages remember


def test_the_events_list_pages_without_counting_and_filters_on_fixed_choices(
    admin_client, source, monkeypatch, django_assert_max_num_queries
):
    from django.contrib import admin

    monkeypatch.setattr(admin.site.get_model_admin(Event), "list_per_page", 2)
    stored = [store_event(source, n) for n in range(1, 6)]
    Event.objects.filter(pk=stored[0].pk).update(routed_at=stored[0].received_at)

    first = html(admin_client, EVENTS)
    waiting = html(admin_client, f"{EVENTS}?routed=no&type=track&received=24h&p=2")

    assert len(listed(first)) == 2 and 'id="next-page" href="?p=2"' in first
    assert set(listed(waiting)) <= {e.pk for e in stored[1:]} and len(listed(waiting)) == 2
    assert not re.search(r"\d+ results?", first)  # the stock search form's count
    with django_assert_max_num_queries(6):  # session, user, sources (filter), rows
        html(admin_client, f"{EVENTS}?q=msg-00001")
