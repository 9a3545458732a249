"""The table source admin (issue 18): adding one with a write-only connection URL, Test
connection, Preview, Run now, the run history, and what viewers may and may not see."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from infra.encryption import MASK
from ingest.models import Source
from tables.models import Run, TableSource
from tests.servers import free_port
from tests.tables.conftest import Warehouse

pytestmark = pytest.mark.django_db

# Distinctive, so that finding them anywhere in a page is certainly a leak.
PASSWORD = "wh-pass-5e1c9d"
URL = f"postgresql://reader:{PASSWORD}@127.0.0.1:5432/analytics"
PRIVATE = "ada.lovelace@example.com"
ROW_ERROR = f"duplicate key value: Key (email)=({PRIVATE}) already exists"
WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ROWS = [
    (1, PRIVATE, Decimal("0.9100"), "high", WHEN),
    (2, "grace@example.com", Decimal("0.2500"), "low", WHEN),
]
OLD_URL = "postgresql://reader:old-pass@db.internal:5432/analytics"
# For pages that never reach the table source's database: no warehouse is made for them.
offline = pytest.mark.parametrize("warehouse", [Warehouse(OLD_URL)], ids=["offline"])
ADD = reverse("admin:tables_tablesource_add")
CHANGELIST = reverse("admin:tables_tablesource_changelist")
RUNS = reverse("admin:tables_run_changelist")


def url_of(name: str, table: TableSource) -> str:
    return reverse(f"admin:tables_tablesource_{name}", args=[table.pk])


def form(source: Source, **overrides) -> dict:
    return {
        "name": "Sales predictions",
        "source": source.pk,
        "enabled": "on",
        "connection_url": URL,
        "table": "customer_scores",
        "query": "",
        "timeout_seconds": 300,
        "key_columns": "customer_id",
        "identity_column": "email",
        "identity": "userId",
        "emit": "track",
        "event_name": "Sales Prediction",
        "columns": "",
        "timestamp_column": "",
        "changes": "added_changed",
        "schedule_minutes": 60,
    } | overrides


def finished_run(table: TableSource, **fields) -> Run:
    started = timezone.now() - timedelta(minutes=5)
    defaults = {
        "status": Run.Status.SUCCEEDED,
        "started_at": started,
        "finished_at": started + timedelta(seconds=12),
        "rows_read": 5,
        "added": 4,
        "changed": 1,
        "events": 5,
    }
    return Run.objects.create(table_source=table, trigger=Run.Trigger.MANUAL, **defaults | fields)


def test_an_editor_adds_a_table_source_whose_url_is_stored_encrypted_and_never_shown(
    editor, source
):
    response = editor.post(ADD, form(source), follow=True)

    table = TableSource.objects.get()
    assert response.redirect_chain, response.context["adminform"].form.errors
    assert table.connection_url == URL
    assert PASSWORD not in table.encrypted_connection
    assert (table.source, table.schedule_minutes, table.event_name) == (
        source,
        60,
        "Sales Prediction",
    )
    change_page = editor.get(url_of("change", table)).content.decode()
    for page in (response.content.decode(), change_page):
        assert URL not in page and PASSWORD not in page and "analytics" not in page
    assert f'placeholder="{MASK}"' in change_page


def test_a_refused_add_form_does_not_echo_the_typed_url(editor, source):
    response = editor.post(ADD, form(source, key_columns=""))

    assert "key_columns" in response.context["adminform"].form.errors
    assert PASSWORD not in response.content.decode()
    assert not TableSource.objects.exists()


def test_the_url_is_required_when_adding(editor, source):
    response = editor.post(ADD, form(source, connection_url=""))

    assert "connection_url" in response.context["adminform"].form.errors
    assert not TableSource.objects.exists()


@offline
def test_an_empty_url_on_change_keeps_the_stored_one(editor, table_source):
    table = table_source()

    response = editor.post(
        url_of("change", table), form(table.source, name="Renamed", connection_url="")
    )

    assert response.status_code == 302
    table.refresh_from_db()
    assert (table.name, table.connection_url) == ("Renamed", OLD_URL)


@offline
def test_a_typed_url_on_change_replaces_the_stored_one(editor, table_source):
    table = table_source()

    editor.post(url_of("change", table), form(table.source))

    table.refresh_from_db()
    assert table.connection_url == URL


def test_an_unknown_scheme_is_a_form_error(editor, source):
    typed = f"mysql://reader:{PASSWORD}@db.internal/analytics"

    response = editor.post(ADD, form(source, connection_url=typed))

    errors = response.context["adminform"].form.errors
    assert "no connector reads mysql:// URLs" in errors["connection_url"][0]
    assert PASSWORD not in response.content.decode()
    assert not TableSource.objects.exists()


def test_the_models_own_checks_show_as_form_errors(editor, source):
    neither = editor.post(ADD, form(source, table=""))
    nameless = editor.post(ADD, form(source, event_name=""))

    assert "Give a table or a query, not both." in neither.content.decode()
    assert nameless.context["adminform"].form.errors["event_name"] == [
        "A track event needs a name."
    ]
    assert not TableSource.objects.exists()


def test_test_connection_says_what_answered(editor, table_source):
    table = table_source()

    page = editor.post(url_of("test_connection", table), follow=True).content.decode()

    assert "Test connection: connected: PostgreSQL" in page


@offline
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://reader:{PASSWORD}@127.0.0.1:{free_port()}/analytics",  # a closed port
        # libpq quotes these back: the password, the whole URL.
        f"postgresql://reader:{PASSWORD}%zz@127.0.0.1/analytics",
        f"postgresql://reader:{PASSWORD}@[::1]x/analytics",
    ],
    ids=["closed-port", "bad-percent-escape", "bad-host"],
)
def test_a_failed_test_connection_says_why_without_the_url(editor, table_source, url):
    table = table_source(url=url)

    page = editor.post(url_of("test_connection", table), follow=True).content.decode()

    assert "Test connection failed:" in page
    assert PASSWORD not in page and url not in page


@offline
def test_test_connection_needs_a_post(editor, table_source):
    assert editor.get(url_of("test_connection", table_source())).status_code == 405


def test_preview_shows_the_rows_values_and_the_events_they_would_become(
    editor, table_source, warehouse
):
    warehouse.scores(ROWS)
    table = table_source()

    response = editor.get(url_of("preview", table))

    page = response.content.decode()
    assert response.status_code == 200
    assert [row.values[:4] for row in response.context["rows"]] == [
        ["1", PRIVATE, "0.91", "high"],
        ["2", "grace@example.com", "0.25", "low"],
    ]
    assert page.count('class="preview-row"') == 2
    assert "<th>churn_score</th>" in page
    assert "&quot;event&quot;: &quot;Sales Prediction&quot;" in page
    assert f"&quot;userId&quot;: &quot;{PRIVATE}&quot;" in page
    assert warehouse.url not in page


def test_preview_shows_why_the_rows_cannot_become_events(editor, table_source, warehouse):
    warehouse.scores(ROWS)
    table = table_source(identity_column="customer_email")

    page = editor.get(url_of("preview", table)).content.decode()

    assert 'id="preview-problem"' in page and "no column &#x27;customer_email&#x27;" in page
    assert PRIVATE in page  # the rows, without events


@offline
def test_run_now_queues_a_run_and_a_second_one_is_refused_while_it_waits(editor, table_source):
    table = table_source()

    first = editor.post(url_of("run_now", table), follow=True)
    second = editor.post(url_of("run_now", table), follow=True)

    assert first.redirect_chain[-1][0] == url_of("change", table)
    assert "Queued a run of “Sales predictions”" in first.content.decode()
    assert "already has a run queued or running" in second.content.decode()
    run = Run.objects.get()
    assert (run.status, run.trigger) == ("queued", "manual")


@offline
def test_the_change_page_lists_the_latest_runs_and_links_to_all_of_them(editor, table_source):
    table = table_source()
    succeeded = finished_run(table)
    failed = finished_run(table, status=Run.Status.FAILED, error_kind="query", error=ROW_ERROR)

    page = editor.get(url_of("change", table)).content.decode()

    assert f'id="run-{succeeded.pk}"' in page and f'id="run-{failed.pk}"' in page
    assert page.index(f'id="run-{failed.pk}"') < page.index(f'id="run-{succeeded.pk}"')
    assert '<span class="badge badge-delivered">succeeded</span>' in page
    assert "<code>query</code>" in page and PRIVATE in page  # editors see the error text
    assert "12 s" in page
    assert f'href="{RUNS}?table_source__id__exact={table.pk}"' in page


@offline
def test_the_list_shows_each_sources_schedule_and_latest_run_in_one_query(
    admin_client, table_source
):
    manual = table_source(name="Manual")
    finished_run(manual, status=Run.Status.FAILED)
    hourly = table_source(name="Hourly", schedule_minutes=60)
    finished_run(hourly)
    finished_run(hourly, status=Run.Status.RUNNING, finished_at=None)

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(CHANGELIST).content.decode()

    assert "every 60 min" in page and "manual" in page
    assert '<span class="badge badge-failed">failed</span>' in page
    assert '<span class="badge badge-in_flight">running</span>' in page
    assert "succeeded" not in page
    listing = [q["sql"] for q in queries.captured_queries if '"tables_run"' in q["sql"]]
    assert len(listing) == 1


@offline
def test_enable_and_disable_act_on_the_selected_sources(editor, table_source):
    table = table_source()

    def act(action: str) -> None:
        editor.post(CHANGELIST, {"action": action, "_selected_action": [table.pk], "index": 0})
        table.refresh_from_db()

    act("disable")
    assert not table.enabled
    act("enable")
    assert table.enabled


@offline
def test_deleting_a_source_deletes_its_runs_without_listing_them(editor, table_source):
    table = table_source()
    finished_run(table)

    confirm = editor.get(url_of("delete", table)).content.decode()
    editor.post(url_of("delete", table), {"post": "yes"})

    assert "Runs: 1" in confirm
    assert not TableSource.objects.exists() and not Run.objects.exists()


@offline
def test_runs_are_a_log_nobody_adds_edits_or_deletes(editor, table_source):
    run = finished_run(table_source())
    detail = reverse("admin:tables_run_change", args=[run.pk])

    page = editor.get(detail).content.decode()

    assert editor.get(reverse("admin:tables_run_add")).status_code == 403
    assert editor.post(detail, {"status": "failed"}).status_code == 403
    assert editor.post(reverse("admin:tables_run_delete", args=[run.pk])).status_code == 403
    assert 'name="_save"' not in page and "Sales predictions" in page


@offline
def test_a_viewer_sees_runs_but_never_the_connection_url_row_values_or_error_text(
    viewer, table_source
):
    table = table_source()
    run = finished_run(table, status=Run.Status.FAILED, error_kind="query", error=ROW_ERROR)

    pages = [
        viewer.get(url_of("change", table)),
        viewer.get(CHANGELIST),
        viewer.get(f"{RUNS}?table_source__id__exact={table.pk}"),
        viewer.get(reverse("admin:tables_run_change", args=[run.pk])),
    ]

    for response in pages:
        page = response.content.decode()
        assert response.status_code == 200
        assert "db.internal" not in page and "old-pass" not in page
        assert "connection_url" not in page
        assert PRIVATE not in page
    change_page = pages[0].content.decode()
    assert f'id="run-{run.pk}"' in change_page and "<code>query</code>" in change_page
    assert "(details hidden)" in change_page
    for button in ("test-connection", "preview-link", "run-now"):
        assert f'id="{button}"' not in change_page


@offline
def test_a_viewer_can_neither_preview_test_run_nor_disable(viewer, table_source):
    table = table_source()

    answers = (
        viewer.get(url_of("preview", table)).status_code,
        viewer.post(url_of("test_connection", table)).status_code,
        viewer.post(url_of("run_now", table)).status_code,
    )
    viewer.post(CHANGELIST, {"action": "disable", "_selected_action": [table.pk], "index": 0})

    assert answers == (403, 403, 403)
    assert not Run.objects.exists()
    table.refresh_from_db()
    assert table.enabled


@offline
def test_preview_needs_the_payload_permission_beside_change(
    django_user_model, client, table_source
):
    table = table_source()
    user = django_user_model.objects.create_user("changer", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_tablesource", "change_tablesource"])
    )
    client.force_login(user)

    change_page = client.get(url_of("change", table)).content.decode()

    assert client.get(url_of("preview", table)).status_code == 403
    assert 'id="preview-link"' not in change_page and 'id="run-now"' in change_page


def test_the_roles_cover_table_sources(db):
    def codenames(group: str) -> set[str]:
        permissions = Group.objects.get(name=group).permissions.filter(
            content_type__app_label="tables"
        )
        return set(permissions.values_list("codename", flat=True))

    assert codenames("Viewers") == {"view_tablesource", "view_run"}
    assert codenames("Editors") == {
        "view_tablesource",
        "add_tablesource",
        "change_tablesource",
        "delete_tablesource",
        "view_run",
    }
