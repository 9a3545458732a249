"""The transformation admin: code written by admins only (a new version on every change, a script
that cannot load refused with its line), sources attached by editors, everything read by
viewers; Test transformation; the delivery page naming the versions that made a delivery."""

from html import escape

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from destinations.models import Delivery, Transformation
from destinations.services.transformations import (
    create_transformation,
    save_code,
    set_destination_chain,
    set_source_chain,
)
from ingest.models import Source
from tests.destinations.admin.transformation_helpers import (
    ADD,
    BROKEN,
    CHANGELIST,
    FAN_OUT,
    REDACT_PII,
    RENAME,
    THROW,
    change_url,
    delivery_url,
    page,
    transformation_form,
    try_url,
    version_url,
)
from tests.destinations.delivery import scenario

pytestmark = pytest.mark.django_db

# --- Writing code: admins only ------------------------------------------------------------


def test_the_list_shows_each_transformation_version_attachments_and_test_link(
    admin_client, redact, billing
):
    save_code(redact, RENAME, "ops")
    set_destination_chain(billing, [redact])

    listing = page(admin_client, CHANGELIST)

    assert "Redact PII" in listing and ">v2<" in listing
    assert "1 destination, 0 sources" in listing
    assert f'href="{try_url(redact)}"' in listing


def test_an_admin_adds_a_transformation_as_its_version_1(admin_client, admin_user):
    form = {
        "name": "Rename",
        "description": "Prefixes event names",
        "code": RENAME.replace("\n", "\r\n"),
        "source_links-TOTAL_FORMS": 0,
        "source_links-INITIAL_FORMS": 0,
    }

    response = admin_client.post(ADD, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    transformation = Transformation.objects.get()
    version = transformation.current_version
    assert (version.number, version.created_by) == (1, admin_user.username)
    assert version.code == RENAME  # the browser's line ends are not part of the code


def test_a_new_transformation_starts_from_rudderstacks_template(admin_client):
    assert "export function transformEvent(event, metadata) {" in page(admin_client, ADD)


def test_saving_new_code_makes_version_2_and_keeps_version_1(admin_client, redact):
    response = admin_client.post(change_url(redact), transformation_form(redact, code=RENAME))

    assert response.status_code == 302, response.context["adminform"].form.errors
    redact.refresh_from_db()
    assert [(v.number, v.code) for v in redact.versions.order_by("number")] == [
        (1, REDACT_PII),
        (2, RENAME),
    ]
    assert redact.current_version.number == 2
    history = page(admin_client, change_url(redact))
    assert 'id="version-1"' in history and 'id="version-2"' in history
    assert version_url(redact.versions.get(number=1)) in history


def test_saving_the_same_code_or_only_the_description_makes_no_version(admin_client, redact):
    form = transformation_form(
        redact, description="Emails out", code=REDACT_PII.replace("\n", "\r\n")
    )

    admin_client.post(change_url(redact), form)

    redact.refresh_from_db()
    assert redact.description == "Emails out"
    assert redact.versions.count() == 1


def test_code_with_a_syntax_error_is_refused_with_its_line(admin_client, redact):
    response = admin_client.post(change_url(redact), transformation_form(redact, code=BROKEN))

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["code"]
    assert "SyntaxError" in error and "(line 3)" in error
    assert escape("3:   let x = ;") in response.content.decode()
    assert redact.versions.count() == 1


def test_code_without_transform_event_is_refused(admin_client, redact):
    response = admin_client.post(change_url(redact), transformation_form(redact, code="1 + 1"))

    assert "defines no function transformEvent" in str(response.context["adminform"].form.errors)


def test_a_version_page_shows_its_code_and_what_changed(admin_client, redact):
    save_code(redact, RENAME, "ops")
    second = redact.current_version

    shown = page(admin_client, version_url(second))

    assert escape('event.event = "Renamed " + event.event;') in shown
    assert 'id="version-diff"' in shown and "+  event.event" in shown
    assert f"{try_url(redact)}?version={second.pk}" in shown


def test_an_attached_transformation_is_not_deleted_and_the_page_says_why(
    admin_client, redact, billing
):
    set_destination_chain(billing, [redact])
    delete = reverse("admin:destinations_transformation_delete", args=[redact.pk])

    response = admin_client.post(delete, {"post": "yes"}, follow=True)

    assert response.status_code == 200
    assert "is attached to 1 destination: detach it first" in response.content.decode()
    assert Transformation.objects.filter(pk=redact.pk).exists()


def test_a_transformation_attached_to_nothing_is_deleted_with_its_versions(admin_client, redact):
    save_code(redact, RENAME, "ops")
    delete = reverse("admin:destinations_transformation_delete", args=[redact.pk])

    response = admin_client.post(delete, {"post": "yes"})

    assert response.status_code == 302
    assert not Transformation.objects.exists()


# --- Roles ----------------------------------------------------------------------------------


def test_an_editor_reads_the_code_but_can_neither_write_it_nor_add_a_transformation(editor, redact):
    shown = page(editor, change_url(redact))

    assert 'name="code"' not in shown and 'name="name"' not in shown
    assert 'id="current-code"' in shown and escape('"[redacted]"') in shown
    assert editor.get(ADD).status_code == 403
    assert f'href="{ADD}"' not in page(editor, CHANGELIST)


def test_an_editor_attaches_a_source_and_what_they_post_of_the_code_is_ignored(
    editor, redact, source
):
    form = transformation_form(redact, name="Renamed", code=BROKEN) | {
        "source_links-TOTAL_FORMS": 1,
        "source_links-0-source": source.pk,
        "source_links-0-position": 0,
    }

    response = editor.post(change_url(redact), form)

    assert response.status_code == 302
    redact.refresh_from_db()
    assert redact.name == "Redact PII" and redact.code == REDACT_PII
    assert list(redact.source_links.values_list("source", flat=True)) == [source.pk]


def test_an_editor_attaches_transformations_to_a_destination_in_order(
    editor, billing, source, redact
):
    rename = create_transformation("Rename", RENAME)
    preset = billing.mappings.get()
    form = {
        "name": billing.name,
        "enabled": "on",
        "sources": [source.pk],
        "api_token": "",
        "base_url": billing.settings["base_url"],
        "max_concurrency": 4,
        "rate_limit": "",
        "retry_base_seconds": 10,
        "retry_cap_seconds": 600,
        "retry_window_seconds": 14400,
        "breaker_threshold": 20,
        "breaker_cooldown_seconds": 30,
        "mappings-TOTAL_FORMS": 1,
        "mappings-INITIAL_FORMS": 1,
        "mappings-0-id": preset.pk,
        "mappings-0-destination": billing.pk,
        "mappings-0-enabled": "on",
        "transformation_links-TOTAL_FORMS": 2,
        "transformation_links-INITIAL_FORMS": 0,
        "transformation_links-0-transformation": rename.pk,
        "transformation_links-0-position": 1,
        "transformation_links-1-transformation": redact.pk,
        "transformation_links-1-position": 0,
    }
    url = reverse("admin:destinations_destination_change", args=[billing.pk])
    assert "Transformations — run in this order before the mappings" in page(editor, url)

    response = editor.post(url, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    links = billing.transformation_links.order_by("position")
    assert [link.transformation.name for link in links] == ["Redact PII", "Rename"]


def test_a_viewer_reads_a_transformation_and_changes_nothing(viewer, redact, source):
    shown = page(viewer, change_url(redact))
    versions = page(viewer, version_url(redact.current_version))

    assert escape('"[redacted]"') in shown and escape('"[redacted]"') in versions
    assert 'name="code"' not in shown
    form = transformation_form(redact, name="Renamed", code=RENAME) | {
        "source_links-TOTAL_FORMS": 1,
        "source_links-0-source": source.pk,
        "source_links-0-position": 0,
    }
    assert viewer.post(change_url(redact), form).status_code == 403
    assert viewer.get(ADD).status_code == 403
    redact.refresh_from_db()
    assert (redact.name, redact.versions.count(), redact.source_links.count()) == (
        "Redact PII",
        1,
        0,
    )


def test_no_role_may_write_code_and_editors_attach(db):
    def codenames(group: str) -> set[str]:
        permissions = Group.objects.get(name=group).permissions
        return set(permissions.values_list("codename", flat=True))

    viewers, editors = codenames("Viewers"), codenames("Editors")

    assert "edit_code" not in viewers | editors
    assert {"view_transformation", "view_transformationversion"} <= viewers
    assert {"view_destinationtransformation", "view_sourcetransformation"} <= viewers
    assert "change_transformation" in editors and "add_transformation" not in editors
    assert {"add_sourcetransformation", "delete_destinationtransformation"} <= editors


# --- The delivery log ------------------------------------------------------------------------


def test_a_delivery_page_names_the_versions_that_made_it_and_its_part(
    admin_client, source, monkeypatch
):
    scenario.quiet_doorbell(monkeypatch)
    hook = scenario.webhook(source, "http://127.0.0.1:9")
    fan_out = create_transformation("Fan out", RENAME)
    save_code(fan_out, REDACT_PII)
    save_code(fan_out, FAN_OUT)
    set_destination_chain(hook, [fan_out])

    scenario.ingest_and_route(source, scenario.track(1))

    first, second = Delivery.objects.order_by("part")
    first_page = page(admin_client, reverse("admin:destinations_delivery_change", args=[first.pk]))
    second_page = page(
        admin_client, reverse("admin:destinations_delivery_change", args=[second.pk])
    )
    link = f'<a href="{version_url(fan_out.current_version)}">Fan out v3</a>'
    assert link in first_page and link in second_page
    assert 'id="delivery-part"' not in first_page
    assert "part 1" in second_page


def test_a_failed_transformation_is_in_the_error_filter_and_on_the_delivery_page(
    admin_client, source, monkeypatch
):
    scenario.quiet_doorbell(monkeypatch)
    hook = scenario.webhook(source, "http://127.0.0.1:9")
    set_destination_chain(hook, [create_transformation("Thrower", THROW)])
    scenario.ingest_and_route(source, scenario.track(1))
    failed = Delivery.objects.get()

    listing = page(admin_client, "/admin/destinations/delivery/?error_code=TRANSFORMATION_ERROR")
    detail = page(admin_client, delivery_url(failed))

    assert (failed.status, failed.error_code) == ("failed", "TRANSFORMATION_ERROR")
    assert f"/admin/destinations/delivery/{failed.pk}/change/" in listing
    assert "Thrower v1: Error: no way (line 3)" in detail
    assert "Thrower v1</a>" in detail


# --- Bounded queries ---------------------------------------------------------------------------


def queries_of(url: str, client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_pages_read_as_many_rows_in_as_many_queries_whatever_is_attached(
    admin_client, billing, source, redact
):
    destination_page = reverse("admin:destinations_destination_change", args=[billing.pk])
    set_destination_chain(billing, [redact])
    set_source_chain(source, [redact])
    [queries_of(url, admin_client) for url in (destination_page, change_url(redact))]  # caches
    few = [queries_of(url, admin_client) for url in (destination_page, change_url(redact))]

    more = [create_transformation(f"Step {n}", RENAME) for n in range(5)]
    set_destination_chain(billing, [redact, *more])
    for n in range(5):
        set_source_chain(Source.objects.create(name=f"App {n}"), [redact])
    many = [queries_of(url, admin_client) for url in (destination_page, change_url(redact))]

    assert many == few
