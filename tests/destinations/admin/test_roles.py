"""Viewers and editors (docs/security.md, "Roles"): viewers read the log without payloads and change
nothing."""

import pytest
from django.contrib.auth.models import Group

from destinations.models import Delivery
from tests.destinations.admin import log_scenario
from tests.destinations.admin.log_scenario import LOG_URL, detail_url

# A value only the event and the request body carry.
PRIVATE = "ada.lovelace@example.com"


@pytest.fixture
def delivered(source, sink):
    """One delivery sent to the sink, whose answer quotes the private value back."""
    sink.answer = lambda request: (400, {}, f'{{"error": "bad {PRIVATE}"}}'.encode())
    log_scenario.billing(source, sink.url)
    (delivery,) = log_scenario.route(source, 1, properties={"email": PRIVATE})
    return log_scenario.dispatch(delivery)


def test_a_viewer_reads_the_delivery_log_without_any_payload_or_body(viewer, delivered):
    listing = viewer.get(LOG_URL)
    detail = viewer.get(detail_url(delivered))
    attempt = delivered.attempt_log.get()
    attempt_page = viewer.get(f"/admin/destinations/deliveryattempt/{attempt.pk}/change/")
    event_page = viewer.get(f"/admin/ingest/event/{delivered.event_id}/change/")

    for page in (listing, detail, attempt_page, event_page):
        assert page.status_code == 200
        assert PRIVATE not in page.content.decode()
    assert "needs the “view payloads” permission" in detail.content.decode()


def test_an_editor_sees_the_payloads(editor, delivered):
    detail = editor.get(detail_url(delivered)).content.decode()

    assert PRIVATE in detail


def test_a_viewer_cannot_retry_replay_or_configure(viewer, delivered, source):
    viewer.post(
        LOG_URL, {"action": "retry_selected", "_selected_action": [delivered.pk], "index": 0}
    )
    destination = delivered.destination
    change = viewer.post(
        f"/admin/destinations/destination/{destination.pk}/change/",
        {"name": "Renamed", "enabled": "on"},
    )
    add = viewer.get("/admin/destinations/destination/add/?kind=metronome")
    source_change = viewer.post(f"/admin/ingest/source/{source.pk}/change/", {"name": "X"})

    assert not Delivery.objects.filter(replay=True).exists()
    assert (change.status_code, add.status_code, source_change.status_code) == (403, 403, 403)
    destination.refresh_from_db()
    assert destination.name != "Renamed"


def test_a_viewers_bulk_actions_neither_rotate_write_keys_nor_disable_destinations(
    viewer, delivered, source
):
    key = source.write_key
    destination = delivered.destination
    viewer.post("/admin/ingest/source/", {"action": "rotate_keys", "_selected_action": [source.pk]})
    viewer.post(
        "/admin/destinations/destination/",
        {"action": "disable", "_selected_action": [destination.pk]},
    )

    source.refresh_from_db()
    destination.refresh_from_db()
    assert (source.write_key, destination.enabled) == (key, True)


def test_an_editor_can_replay_a_delivery(editor, delivered):
    editor.post(
        LOG_URL, {"action": "retry_selected", "_selected_action": [delivered.pk], "index": 0}
    )

    assert Delivery.objects.filter(replay=True, replay_of=delivered).exists()


def test_the_roles_are_kept_after_every_migrate(db):
    viewers = set(Group.objects.get(name="Viewers").permissions.values_list("codename", flat=True))
    editors = set(Group.objects.get(name="Editors").permissions.values_list("codename", flat=True))

    assert "view_delivery" in viewers and "view_payloads" not in viewers
    assert not {codename for codename in viewers if not codename.startswith("view_")}
    assert {"change_destination", "add_mapping", "change_delivery", "view_payloads"} <= editors


def test_a_viewer_reads_a_source_without_its_write_key(viewer, source):
    page = viewer.get(f"/admin/ingest/source/{source.pk}/change/").content.decode()

    assert source.name in page
    assert source.write_key not in page
