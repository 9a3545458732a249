"""Transformation libraries: code that transformations import, as in RudderStack
(`import { maskEmail } from "piiTools"`, the library's name in camelCase).

Saving a library gives each transformation importing it a new version, which new events run at
once, so writing one takes `destinations.edit_code`, as a transformation's code does; without
it the pages are read-only. Saving and deleting go through destinations/libraries.py, whose
refusals are shown on the form and nothing is saved.
"""

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ..models import Transformation, TransformationLibrary
from ..models.transformations import import_name
from ..services.libraries import delete_library, importers, save_library, still_imported
from .transformation_trial import CodeField, code_textarea, with_line

EDIT_CODE = "destinations.edit_code"
# RudderStack's libraries export what transformations import; a first function to rename.
NEW_CODE = "export function myFunction(value) {\n  return value;\n}\n"
# The sandbox's messages end with the line in a library: "... (line 3 of library piiTools)".
LIBRARY_LINE_AT_END = re.compile(r"\(line (\d+) of library ([\w$]+)\)$")
IMPORTED_TEMPLATE = "admin/destinations/transformationlibrary/imported.html"


class LibraryForm(forms.ModelForm):
    """Name, description and code, saved by save_library while the form is validated: its
    refusals (code that cannot load, a transformation it would break) become the form's
    errors, and the admin then only shows the saved library. `author` is set by the admin."""

    author = ""
    code = CodeField(
        widget=code_textarea("id_code"),
        help_text="JavaScript whose exports transformations import by the library's name in "
        'camelCase: import { myFunction } from "myLibrary". Saving changed code gives each '
        "transformation importing it a new version, or is refused if one would no longer load.",
    )

    class Meta:
        model = TransformationLibrary
        fields = ("name", "description", "code")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("code", self.instance.code if self.instance.pk else NEW_CODE)
        self.published: list[Transformation] = []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors or (self.instance.pk and not self.has_changed()):
            return cleaned
        name, code = cleaned["name"], cleaned["code"]
        # Still the stored library: save_library compares its import name with the new one.
        stored = self.instance if self.instance.pk else None
        try:
            library, self.published = save_library(
                name, code, self.author, cleaned.get("description", ""), library=stored
            )
        except ValidationError as error:
            self.add_refusal(error, import_name(name), code)
            return cleaned
        # The row saved; the model form's own checks that follow then see the library itself.
        self.instance = library
        return cleaned

    def add_refusal(self, error: ValidationError, handle: str, code: str) -> None:
        if hasattr(error, "error_dict"):  # the model's own checks, by field
            self.add_error(None, error)
            return
        for message in error.messages:
            # A line of this library's code is quoted under the code; anything else (a name
            # taken, a transformation's own line) is about the whole form.
            found = LIBRARY_LINE_AT_END.search(message)
            if found and found[2] == handle:
                self.add_error("code", with_line(code, int(found[1]), message))
            else:
                self.add_error(None, message)


class LibraryChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # How many transformations import each library on the page, in one query: the import
        # name is not a column, so it cannot be counted per row by the database.
        self.result_list = list(self.result_list)
        counts = import_counts([library.handle for library in self.result_list])
        for library in self.result_list:
            library.importer_count = counts.get(library.handle, 0)


def import_counts(handles: list[str]) -> dict[str, int]:
    """The number of transformations whose current version imports each of `handles`."""
    if not handles:
        return {}
    imports = {
        f"n{number}": Count("pk", filter=Q(current_version__libraries__has_key=handle))
        for number, handle in enumerate(handles)
    }
    counted = Transformation.objects.aggregate(**imports)
    return {handle: counted[f"n{number}"] for number, handle in enumerate(handles)}


@admin.register(TransformationLibrary)
class TransformationLibraryAdmin(admin.ModelAdmin):
    form = LibraryForm
    list_display = ("name", "import_statement", "imported_by_count", "updated")
    search_fields = ("name",)
    readonly_fields = ("shown_code", "import_statement", "imported_by")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LibraryChangeList

    # A library is nothing but its code (no sources to attach, as on a transformation's page),
    # so adding, changing and deleting one all take edit_code.
    def can_edit_code(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EDIT_CODE)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self.can_edit_code(request)

    def has_change_permission(
        self, request: HttpRequest, obj: TransformationLibrary | None = None
    ) -> bool:
        return super().has_change_permission(request, obj) and self.can_edit_code(request)

    def has_delete_permission(
        self, request: HttpRequest, obj: TransformationLibrary | None = None
    ) -> bool:
        return super().has_delete_permission(request, obj) and self.can_edit_code(request)

    def get_form(
        self, request: HttpRequest, obj: TransformationLibrary | None = None, **kwargs: Any
    ):
        if not self.can_edit_code(request):
            kwargs["form"] = forms.ModelForm  # read-only: no code field to post, nor to require
            return super().get_form(request, obj, **kwargs)
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"author": request.user.get_username()})

    def get_fieldsets(self, request: HttpRequest, obj: TransformationLibrary | None = None):
        code = "code" if self.can_edit_code(request) else "shown_code"
        if obj is None:
            return [(None, {"fields": ("name", "description", code)})]
        fields = ("name", "import_statement", "description", code, "imported_by")
        return [(None, {"fields": fields})]

    def get_actions(self, request: HttpRequest) -> dict:
        # One at a time, from its page, which says what imports it.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(
        self,
        request: HttpRequest,
        obj: TransformationLibrary,
        form: forms.ModelForm,
        change: bool,
    ) -> None:
        # Saved already, by the form's validation (LibraryForm.clean).
        if published := getattr(form, "published", []):
            versions = ", ".join(f"{t.name} v{t.current_version.number}" for t in published)
            self.message_user(request, f"Published: {versions}. New events run them from now on.")

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        library = self.get_object(request, unquote(object_id))
        if library is None or not self.has_delete_permission(request, library):
            return super().delete_view(request, object_id, extra_context)
        # Refused before the confirmation page, rather than after it.
        if in_use := still_imported(library):
            return self.refuse_deletion(request, library, in_use)
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:  # imported between the confirmation page and its POST
            return self.refuse_deletion(request, library, " ".join(error.messages))

    def delete_model(self, request: HttpRequest, obj: TransformationLibrary) -> None:
        delete_library(obj)

    def refuse_deletion(
        self, request: HttpRequest, library: TransformationLibrary, reason: str
    ) -> HttpResponse:
        self.message_user(
            request,
            f"“{library.name}” cannot be deleted: {reason.rstrip('.')}. Without it, they would "
            "no longer load.",
            messages.ERROR,
        )
        url = reverse("admin:destinations_transformationlibrary_change", args=[library.pk])
        return HttpResponseRedirect(url)

    @admin.display(description="Import")
    def import_statement(self, library: TransformationLibrary) -> str:
        statement = '<code class="import-statement">import … from "{}"</code>'
        return format_html(statement, library.handle)

    @admin.display(description="Imported by")
    def imported_by_count(self, library: TransformationLibrary) -> str:
        count = library.importer_count
        return f"{count} transformation{'' if count == 1 else 's'}"

    @admin.display(description="Code")
    def shown_code(self, library: TransformationLibrary) -> str:
        return format_html('<pre class="code" id="library-code">{}</pre>', library.code)

    @admin.display(description="Imported by")
    def imported_by(self, library: TransformationLibrary) -> str:
        rows = [
            (
                reverse("admin:destinations_transformation_change", args=[t.pk]),
                t.name,
                t.current_version.number,
            )
            for t in importers(library.handle)
        ]
        if not rows:
            return "No transformation imports it."
        items = format_html_join("", '<li><a href="{}">{}</a> (v{})</li>', rows)
        return format_html('<ul id="imported-by">{}</ul>', items)


def imported_libraries(snapshot: dict[str, str], with_code: bool = False) -> str:
    """The libraries a transformation version imports (its `libraries`, by import name): each
    library's name linked to its page while one is imported by that name, else the name it
    was imported by; with the code the version runs when `with_code`."""
    if not snapshot:
        return "None."
    # The import name is not a column: the libraries are few, read them all once.
    by_handle = {lib.handle: lib for lib in TransformationLibrary.objects.only("pk", "name")}
    rows = [
        {
            "handle": handle,
            "library": by_handle.get(handle),
            "code": code,
        }
        for handle, code in sorted(snapshot.items())
    ]
    return render_to_string(IMPORTED_TEMPLATE, {"rows": rows, "with_code": with_code})
