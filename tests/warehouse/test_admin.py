"""The schema registry in the admin, by role: viewers read tables, columns, discards and
loads; editors widen a column and reload a time range; nobody edits the registry's rows."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from destinations.models import Delivery
from destinations.services.destinations import create_destination
from tests.destinations.delivery.scenario import ingest_and_route, track
from warehouse.models import Column, Load, Table

from .test_delivery import load_now


@pytest.fixture
def loaded(db, warehouse, source):
    """A warehouse destination that loaded two events, the second one's total discarded."""
    destination = create_destination(
        "postgres_warehouse", "Warehouse", {}, {"connection_url": warehouse.url}, [source]
    )
    ingest_and_route(source, track(1, properties={"total": 1}))
    load_now(destination)
    ingest_and_route(source, track(2, properties={"total": 2.5}))
    load_now(destination)
    return Table.objects.get(destination=destination, name="order_completed")


def page(client, table: Table) -> str:
    response = client.get(reverse("admin:warehouse_table_change", args=[table.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_viewer_reads_the_tables_columns_discards_and_loads_but_cannot_widen(viewer, loaded):
    listing = viewer.get(reverse("admin:warehouse_table_changelist")).content.decode()
    shown = page(viewer, loaded)

    assert "order_completed" in listing
    assert "total" in shown and "bigint" in shown and "msg-00001" in shown
    assert "type_mismatch" in shown
    assert "Recent loads of Warehouse" in shown
    assert 'id="widen"' not in shown
    assert viewer.get(reverse("admin:warehouse_load_changelist")).status_code == 200
    widen = reverse("admin:warehouse_table_widen", args=[loaded.pk])
    assert viewer.post(widen, {"column": "total", "to": "double precision"}).status_code == 403


def test_nobody_adds_changes_or_deletes_registry_rows_through_the_admin(editor, loaded):
    assert editor.get(reverse("admin:warehouse_table_add")).status_code == 403
    delete = reverse("admin:warehouse_table_delete", args=[loaded.pk])
    assert editor.post(delete, {"post": "yes"}).status_code == 403
    assert Table.objects.filter(pk=loaded.pk).exists()


def test_an_editor_widens_a_column_then_reloads_and_the_discarded_value_loads(
    editor, loaded, warehouse
):
    assert 'id="widen"' in page(editor, loaded)

    widened = editor.post(
        reverse("admin:warehouse_table_widen", args=[loaded.pk]),
        {"column": "total", "to": "double precision"},
        follow=True,
    )

    assert "is now double precision (was bigint)" in widened.content.decode()
    assert Column.objects.get(table=loaded, name="total").type == "double precision"
    now = timezone.now()
    reloaded = editor.post(
        reverse("admin:warehouse_table_reload", args=[loaded.pk]),
        {
            "start": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "end": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )
    assert "Queued 2 deliveries to reload Warehouse" in reloaded.content.decode()
    assert Delivery.objects.filter(replay=True).count() == 2

    load_now(loaded.destination)

    totals = {row["id"]: row["total"] for row in warehouse.rows("order_completed", "test_app")}
    assert totals == {"msg-00001": 1.0, "msg-00002": 2.5}
    assert warehouse.discards("test_app") == []
    assert not loaded.discard_counts.exists()
    assert len(warehouse.rows("tracks", "test_app")) == 2
    assert Load.objects.filter(destination=loaded.destination).count() == 3


def test_a_widening_the_lattice_does_not_allow_is_refused(editor, loaded):
    response = editor.post(
        reverse("admin:warehouse_table_widen", args=[loaded.pk]),
        {"column": "context_group_id", "to": "double precision"},
        follow=True,
    )

    assert "Nothing done" in response.content.decode()
    assert Column.objects.get(table=loaded, name="context_group_id").type == "text"


def test_a_reload_range_that_ends_before_it_starts_is_refused(editor, loaded):
    response = editor.post(
        reverse("admin:warehouse_table_reload", args=[loaded.pk]),
        {"start": "2026-03-02T00:00", "end": "2026-03-01T00:00"},
        follow=True,
    )

    assert "“From” must come before “To”." in response.content.decode()
    assert not Delivery.objects.filter(replay=True).exists()
