"""Test transformation: code tried on a pasted or recent event, in a fresh sandbox, with what
each of a destination's mappings would send; nothing saved, nothing sent."""

import json
from html import escape

import pytest

from destinations.models import Delivery, Transformation
from destinations.services.transformations import (
    save_code,
    set_source_chain,
)
from ingest.models import Source
from tests.destinations import events
from tests.destinations.admin.factories import store_event
from tests.destinations.admin.transformation_helpers import (
    DROP,
    FAN_OUT,
    PRIVATE,
    REDACT_PII,
    RENAME,
    THROW,
    change_url,
    page,
    try_url,
)

pytestmark = pytest.mark.django_db


def run(client, transformation: Transformation, **fields) -> str:
    response = client.post(try_url(transformation), {"code": transformation.code} | fields)
    assert response.status_code == 200
    return response.content.decode()


def test_the_test_page_starts_with_the_current_code_or_the_version_asked_for(admin_client, redact):
    first = redact.current_version
    save_code(redact, RENAME, "ops")

    shown = page(admin_client, try_url(redact))
    first_shown = page(admin_client, f"{try_url(redact)}?version={first.pk}")

    assert escape('"Renamed " + event.event') in shown
    assert escape('log("redacted for", meta.sourceName);') in first_shown
    assert f'href="{try_url(redact)}"' in page(admin_client, change_url(redact))


def test_the_test_page_runs_a_pii_redaction_on_a_pasted_event(admin_client, redact, source):
    event = events.track(1, properties={"email": PRIVATE, "plan": "pro"})

    shown = run(admin_client, redact, event=json.dumps(event), source=source.pk)

    assert PRIVATE not in shown.split('id="trial-result"')[1]
    assert escape('"email": "[redacted]"') in shown
    assert "redacted for Test app" in shown  # the console, with the source's metadata
    assert 'id="trial-elapsed"' in shown and " ms</strong>" in shown
    assert not Delivery.objects.exists() and redact.versions.count() == 1


def test_the_test_page_runs_the_code_as_edited_without_saving_it(admin_client, redact):
    shown = run(admin_client, redact, code=RENAME, event=json.dumps(events.track(1)))

    assert escape('"event": "Renamed API Call"') in shown
    redact.refresh_from_db()
    assert redact.code == REDACT_PII


def test_a_thrown_error_shows_its_message_its_line_and_the_console(admin_client, redact):
    shown = run(admin_client, redact, code=THROW, event=json.dumps(events.track(1)))

    assert "Error: no way (line 3)" in shown
    assert escape('3:   throw new Error("no way");') in shown
    assert "about to fail" in shown


def test_a_dropped_event_is_said_dropped(admin_client, redact):
    shown = run(admin_client, redact, code=DROP, event=json.dumps(events.track(1)))

    assert 'id="trial-dropped"' in shown and "returned null" in shown


def test_with_a_destination_each_output_shows_what_its_mappings_would_send(
    admin_client, redact, billing
):
    shown = run(
        admin_client,
        redact,
        code=FAN_OUT.replace("return [", 'event.event = "Renamed";\n  return ['),
        event=json.dumps(events.track(1)),
        destination=billing.pk,
    )

    assert 'id="output-0-mappings"' in shown and 'id="output-1-mappings"' in shown
    assert "Send track events" in shown and ">taken<" in shown
    assert escape('"event_type": "Renamed"') in shown
    assert escape('"transaction_id": "msg-0001-copy"') in shown


def test_an_editor_runs_one_of_the_sources_recent_events(editor, redact, source):
    stored = store_event(source, 7, properties={"email": PRIVATE})
    set_source_chain(source, [redact])

    listed = page(editor, try_url(redact))
    shown = run(editor, redact, recent_event=stored.pk, source=source.pk)

    assert stored.message_id in listed
    assert escape('"email": "[redacted]"') in shown


def test_a_viewer_tries_pasted_events_but_sees_no_recent_one(viewer, redact, source):
    stored = store_event(source, 7, properties={"email": PRIVATE})
    set_source_chain(source, [redact])

    listed = page(viewer, try_url(redact))
    refused = run(viewer, redact, recent_event=stored.pk, source=source.pk)
    pasted = run(viewer, redact, event=json.dumps(events.track(1)))

    assert stored.message_id not in listed and 'id="recent-events-hidden"' in listed
    assert PRIVATE not in refused
    assert 'id="trial-elapsed"' in pasted


def test_listing_another_sources_events_keeps_what_was_typed(editor, redact):
    other = Source.objects.create(name="Other app")
    stored = store_event(other, 9)
    typed = '{"type": "track", "event": "Half typed"'

    response = editor.post(
        try_url(redact), {"code": RENAME, "event": typed, "source": other.pk, "list_events": "1"}
    )

    shown = response.content.decode()
    assert stored.message_id in shown
    assert escape(typed) in shown and escape('"Renamed " + event.event') in shown
    assert 'id="trial-result"' not in shown


def test_a_viewer_tries_only_saved_versions_and_runs_no_code_of_their_own(viewer, redact):
    event = json.dumps(events.track(1))
    own_code = "export function transformEvent(event) { while (true) {} }"

    refused = run(viewer, redact, event=event, code=own_code)
    saved = run(viewer, redact, event=event)

    assert "Only a saved version of this transformation can be tried" in refused
    assert 'id="trial-elapsed"' not in refused
    assert 'id="trial-elapsed"' in saved


def test_an_editor_without_the_right_to_write_code_runs_none_either(editor, redact):
    refused = run(editor, redact, event=json.dumps(events.track(1)), code=RENAME)

    assert "Only a saved version of this transformation can be tried" in refused
