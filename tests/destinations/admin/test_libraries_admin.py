"""The transformation libraries' admin: written by those who write code (saving one publishes a
new version of each transformation importing it, a library that cannot load refused with its
line), deleted only while nothing imports it, read by viewers and editors; and the
transformation and version pages naming the libraries a version imports."""

from html import escape

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from destinations.admin import libraries as libraries_admin
from destinations.models import Transformation, TransformationLibrary
from destinations.services.libraries import delete_library, save_library
from destinations.services.transformations import create_transformation, save_code
from tests.destinations.admin.transformation_helpers import change_url, page, version_url

pytestmark = pytest.mark.django_db

LIBRARIES = reverse("admin:destinations_transformationlibrary_changelist")
ADD_LIBRARY = reverse("admin:destinations_transformationlibrary_add")
MASK = "export function mask(text) {\n  return text[0] + '***';\n}\n"
SHORTER = "export function mask(text) {\n  return '*';\n}\n"
BROKEN = "export function mask(text) {\n  return text[0] +\n}\n"
USES_MASK = """import { mask } from "piiTools";
export function transformEvent(event) {
  event.userId = mask(event.userId);
  return event;
}
"""


def library_url(library: TransformationLibrary) -> str:
    return reverse("admin:destinations_transformationlibrary_change", args=[library.pk])


def delete_url(library: TransformationLibrary) -> str:
    return reverse("admin:destinations_transformationlibrary_delete", args=[library.pk])


def library_form(library: TransformationLibrary, **overrides) -> dict:
    return {"name": library.name, "description": library.description, "code": library.code} | (
        overrides
    )


@pytest.fixture
def pii_tools() -> TransformationLibrary:
    library, _ = save_library("PII tools", MASK, "ops")
    return library


@pytest.fixture
def masked(pii_tools):
    return create_transformation("Mask", USES_MASK, "ops")


# --- Writing libraries --------------------------------------------------------------------


def test_the_list_shows_each_library_its_import_name_and_how_many_transformations_import_it(
    admin_client, masked
):
    save_library("Dates", "export const year = 2026;", "ops")

    listing = page(admin_client, LIBRARIES)

    assert 'import … from "piiTools"</code>' in listing
    assert 'import … from "dates"</code>' in listing
    assert "1 transformation<" in listing and "0 transformations<" in listing


def test_an_admin_adds_a_library_from_a_first_function(admin_client):
    assert "export function myFunction(value) {" in page(admin_client, ADD_LIBRARY)

    form = {"name": "PII tools", "description": "Masks", "code": MASK.replace("\n", "\r\n")}
    response = admin_client.post(ADD_LIBRARY, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    library = TransformationLibrary.objects.get()
    assert (library.handle, library.description, library.code) == ("piiTools", "Masks", MASK)


def test_saving_a_library_publishes_a_new_version_of_each_transformation_importing_it(
    admin_client, admin_user, pii_tools, masked
):
    response = admin_client.post(
        library_url(pii_tools), library_form(pii_tools, code=SHORTER), follow=True
    )

    assert "Published: Mask v2." in response.content.decode()
    masked.refresh_from_db()
    version = masked.current_version
    assert (version.number, version.created_by) == (2, admin_user.username)
    assert version.libraries == {"piiTools": SHORTER}


def test_a_library_that_cannot_load_is_refused_with_its_line_and_nothing_is_saved(
    admin_client, pii_tools, masked
):
    response = admin_client.post(library_url(pii_tools), library_form(pii_tools, code=BROKEN))

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["code"]
    assert "SyntaxError" in error and "(line 3 of library piiTools)" in error
    assert escape("3: }") in response.content.decode()
    pii_tools.refresh_from_db()
    assert pii_tools.code == MASK
    assert masked.versions.count() == 1


def test_a_new_library_that_cannot_load_is_not_added(admin_client):
    response = admin_client.post(ADD_LIBRARY, {"name": "PII tools", "code": BROKEN})

    assert "(line 3 of library piiTools)" in str(response.context["adminform"].form.errors)
    assert not TransformationLibrary.objects.exists()


def test_renaming_an_imported_library_is_refused_as_it_would_no_longer_be_found(
    admin_client, pii_tools, masked
):
    response = admin_client.post(library_url(pii_tools), library_form(pii_tools, name="Masking"))

    [error] = response.context["adminform"].form.non_field_errors()
    assert 'imported as "masking", not "piiTools" as “Mask” do' in error
    pii_tools.refresh_from_db()
    assert pii_tools.name == "PII tools"


def test_an_imported_library_is_not_deleted_and_the_page_says_why(admin_client, pii_tools, masked):
    confirmation = admin_client.get(delete_url(pii_tools), follow=True)
    response = admin_client.post(delete_url(pii_tools), {"post": "yes"}, follow=True)

    for shown in (confirmation, response):
        assert shown.redirect_chain == [(library_url(pii_tools), 302)]
        assert "“PII tools” cannot be deleted: “Mask” imports it" in shown.content.decode()
    assert TransformationLibrary.objects.filter(pk=pii_tools.pk).exists()


def test_a_library_imported_once_the_confirmation_page_is_shown_is_not_deleted(
    admin_client, pii_tools, masked, monkeypatch
):
    # As if "Mask" had imported it only after the page checked.
    monkeypatch.setattr(libraries_admin, "importers", lambda handle: Transformation.objects.none())

    response = admin_client.post(delete_url(pii_tools), {"post": "yes"}, follow=True)

    assert response.redirect_chain == [(library_url(pii_tools), 302)]
    assert "“PII tools” cannot be deleted: “Mask” imports it" in response.content.decode()
    assert TransformationLibrary.objects.filter(pk=pii_tools.pk).exists()


def test_a_library_nothing_imports_is_deleted_one_at_a_time(admin_client, pii_tools):
    listing = page(admin_client, LIBRARIES)
    response = admin_client.post(delete_url(pii_tools), {"post": "yes"})

    assert 'value="delete_selected"' not in listing
    assert response.status_code == 302
    assert not TransformationLibrary.objects.exists()


# --- Roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_read_a_library_but_neither_change_add_nor_delete_one(
    request, role, pii_tools
):
    client = request.getfixturevalue(role)

    shown = page(client, library_url(pii_tools))
    change = client.post(library_url(pii_tools), library_form(pii_tools, code=SHORTER))

    assert 'name="code"' not in shown and 'name="name"' not in shown
    assert 'id="library-code"' in shown and escape("text[0] + '***'") in shown
    assert f'href="{ADD_LIBRARY}"' not in page(client, LIBRARIES)
    assert (change.status_code, client.get(ADD_LIBRARY).status_code) == (403, 403)
    assert client.post(delete_url(pii_tools), {"post": "yes"}).status_code == 403
    pii_tools.refresh_from_db()
    assert pii_tools.code == MASK


def test_both_roles_may_view_libraries_and_nothing_more():
    for role in ("Viewers", "Editors"):
        granted = Group.objects.get(name=role).permissions.values_list("codename", flat=True)
        assert {c for c in granted if c.endswith("_transformationlibrary")} == {
            "view_transformationlibrary"
        }


def test_the_admin_index_lists_transformation_libraries_under_destinations(viewer):
    index = page(viewer, reverse("admin:app_list", args=["destinations"]))

    assert f'<a href="{LIBRARIES}">Transformation libraries</a>' in index


# --- What a version imports -----------------------------------------------------------------


def test_the_transformation_page_links_the_libraries_its_current_version_imports(
    viewer, pii_tools, masked
):
    shown = page(viewer, change_url(masked))

    assert f'<a href="{library_url(pii_tools)}">PII tools</a>' in shown
    assert "Mask" in page(viewer, library_url(pii_tools))
    assert f'href="{change_url(masked)}"' in page(viewer, library_url(pii_tools))


def test_a_version_page_shows_the_library_code_it_runs_even_once_the_library_is_gone(
    admin_client, pii_tools, masked
):
    first = masked.current_version
    save_library("PII tools", SHORTER, "ops", library=pii_tools)
    save_code(masked, "export function transformEvent(e) { return e }", "ops")
    delete_library(pii_tools)  # nothing imports it now

    shown = page(admin_client, version_url(first))

    assert 'id="imported-piiTools"' in shown and "no library has this name now" in shown
    assert escape("return text[0] + '***';") in shown
    assert escape("return '*';") not in shown


def test_the_list_reads_as_many_queries_for_many_libraries_as_for_one(admin_client, masked):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(admin_client, LIBRARIES)
        return len(captured)

    one = queries()
    for number in range(5):
        save_library(f"Helpers {number}", f"export const n = {number};", "ops")

    assert queries() == one


def test_the_history_says_which_library_a_published_version_took(admin_client):
    library, _ = save_library("PII tools", "export const mask = (t) => '*';", "ops")
    masked = create_transformation(
        "Mask", 'import { mask } from "piiTools";\nfunction transformEvent(e) { return e }', "ops"
    )
    save_library("PII tools", "export const mask = (t) => '**';", "ops", library=library)

    page = admin_client.get(
        reverse("admin:destinations_transformation_change", args=[masked.pk])
    ).content.decode()

    assert "+0 \u22120; library <code>piiTools</code>" in page
