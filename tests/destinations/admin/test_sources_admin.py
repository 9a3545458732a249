"""The source admin (docs/admin.md, "Sources and the event debugger"): the write key with a copy
button, rotation, the last 24 hours with rejection reasons, and the live event debugger."""

import json
from datetime import timedelta
from html import escape

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from infra.tallies import hour_of
from ingest.models import Event, Rejection, Source
from tests.destinations.admin.factories import store_event, store_events

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:ingest_source_changelist")


def change_url(source: Source) -> str:
    return reverse("admin:ingest_source_change", args=[source.pk])


def debugger_url(source: Source) -> str:
    return reverse("admin:ingest_source_debugger", args=[source.pk])


def test_the_source_page_shows_the_write_key_with_a_copy_button(admin_client, source):
    page = admin_client.get(change_url(source)).content.decode()

    assert f'<code id="write-key">{source.write_key}</code>' in page
    assert 'data-copy="write-key"' in page
    assert 'name="write_key"' not in page  # shown, never edited


def test_rotating_the_write_key_from_the_change_page_replaces_it(admin_client, source):
    old_key = source.write_key
    page = admin_client.get(change_url(source)).content.decode()
    assert 'id="rotate-write-key"' in page

    response = admin_client.post(
        reverse("admin:ingest_source_rotate_write_key", args=[source.pk]), follow=True
    )

    source.refresh_from_db()
    assert source.write_key != old_key and len(source.write_key) >= 32
    page = response.content.decode()
    assert "has a new write key; the old one no longer works" in page
    assert source.write_key in page


def test_rotating_needs_a_post(admin_client, source):
    url = reverse("admin:ingest_source_rotate_write_key", args=[source.pk])

    assert admin_client.get(url).status_code == 405


def test_the_rotate_action_gives_each_selected_source_a_new_key(admin_client, source):
    other = Source.objects.create(name="Other")
    keys = {source.write_key, other.write_key}

    admin_client.post(
        CHANGELIST, {"action": "rotate_keys", "_selected_action": [source.pk, other.pk]}
    )

    assert not keys & set(Source.objects.values_list("write_key", flat=True))


def test_the_enabled_box_turns_a_source_off(admin_client, source):
    response = admin_client.post(change_url(source), {"name": source.name})

    assert response.status_code == 302
    source.refresh_from_db()
    assert not source.enabled


def test_the_source_page_counts_the_last_24_hours_with_reasons_and_latest_examples(
    admin_client, source
):
    now = timezone.now()
    store_events(source, 3)
    store_event(source, 99, received_at=now - timedelta(hours=30))
    this_hour, earlier = hour_of(now), hour_of(now) - timedelta(hours=2)
    Rejection.objects.create(
        source=source, hour=earlier, code="id_required", count=4, example='{"old": 1}'
    )
    Rejection.objects.create(
        source=source, hour=this_hour, code="id_required", count=1, example='{"event": "x"}'
    )
    Rejection.objects.create(
        source=source, hour=this_hour, code="event_not_defined", count=2, example='{"type": 1}'
    )
    Rejection.objects.create(
        source=source, hour=this_hour - timedelta(hours=30), code="id_required", count=50
    )

    page = admin_client.get(change_url(source)).content.decode()

    assert '<strong id="received-count">3</strong> received' in page
    assert '<strong id="rejected-count">7</strong> rejected' in page
    assert page.index('id="rejection-id_required"') < page.index('id="rejection-event_not_defined"')
    assert escape('{"event": "x"}') in page and escape('{"old": 1}') not in page
    assert escape('{"type": 1}') in page


def test_the_event_debugger_lists_the_latest_events_newest_first_in_pretty_json(
    admin_client, source
):
    now = timezone.now()
    older = store_event(source, 1, received_at=now - timedelta(seconds=5), event="Older")
    newer = store_event(source, 2, received_at=now, event="Newer")
    store_event(Source.objects.create(name="Other"), 3, event="Not this source")

    page = admin_client.get(debugger_url(source)).content.decode()

    assert page.index(newer.message_id) < page.index(older.message_id)
    assert "Not this source" not in page
    stored = Event.objects.get(pk=newer.pk).payload  # key order as the database keeps it
    pretty = json.dumps(stored, indent=2, ensure_ascii=False)
    assert f'<pre class="json">{escape(pretty)}</pre>' in page
    assert 'data-url="' + reverse("admin:ingest_source_debugger_events", args=[source.pk]) in page


def test_the_debugger_fragment_is_the_list_alone_for_the_auto_refresh(admin_client, source):
    store_event(source, 1, event="Fresh")
    url = reverse("admin:ingest_source_debugger_events", args=[source.pk])

    fragment = admin_client.get(url).content.decode()

    assert fragment.lstrip().startswith('<table class="compact" id="debugger-table">')
    assert "Fresh" in fragment and "<html" not in fragment


def test_the_debugger_shows_at_most_its_page_of_events(admin_client, source):
    store_events(source, 60)

    page = admin_client.get(debugger_url(source)).content.decode()

    assert page.count('class="debugger-event"') == 50
    assert "msg-0060" in page and "msg-0010" not in page


def test_a_viewer_sees_the_counts_but_not_the_debugger_nor_rotation(
    client, django_user_model, source
):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_source"))
    client.force_login(viewer)

    assert client.get(change_url(source)).status_code == 200
    assert client.get(debugger_url(source)).status_code == 403
    rotate = reverse("admin:ingest_source_rotate_write_key", args=[source.pk])
    assert client.post(rotate).status_code == 403


def test_source_pages_run_a_bounded_number_of_queries(
    admin_client, source, django_assert_max_num_queries
):
    for number in range(30):
        Source.objects.create(name=f"App {number}")
    store_events(source, 80)
    for code in ("id_required", "event_not_defined", "event_too_large"):
        Rejection.objects.create(source=source, hour=hour_of(timezone.now()), code=code, count=3)

    for url in (CHANGELIST, change_url(source), debugger_url(source)):
        with django_assert_max_num_queries(8):
            assert admin_client.get(url).status_code == 200


def test_an_event_page_shows_its_payload_as_pretty_json(admin_client, source):
    event = store_event(source, 1)
    stored = Event.objects.get(pk=event.pk).payload

    page = admin_client.get(reverse("admin:ingest_event_change", args=[event.pk])).content.decode()

    assert f'<pre class="json">{escape(json.dumps(stored, indent=2))}</pre>' in page
