"""Transformations: their code (a new version on every change, a script that cannot run refused
with its line), the sources they run for, the destinations they are attached to, their versions,
and the Test transformation page (transformation_trial).

A transformation's code runs on every event of what it is attached to, so writing it takes the
`destinations.edit_code` permission, which no role has (project/roles.py); without it the page
is read-only but for the sources, which editors attach.
"""

from dataclasses import dataclass
from difflib import SequenceMatcher, unified_diff
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, ProtectedError, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from infra.admin_lists import ReadOnlyAdmin

from ..models import SourceTransformation, Transformation, TransformationVersion
from ..services.transformations import check_code, create_transformation, save_code
from .deliveries import counted
from .libraries import imported_libraries
from .transformation_trial import CodeField, code_textarea, trial_view, with_code_line

EDIT_CODE = "destinations.edit_code"
# RudderStack's own starting point: the event goes through unchanged.
NEW_CODE = "export function transformEvent(event, metadata) {\n  return event;\n}\n"
HISTORY_SHOWN = 50


class TransformationForm(forms.ModelForm):
    """Name, description and the code of the current version, checked by loading it."""

    code = CodeField(
        widget=code_textarea("id_code"),
        help_text="JavaScript defining transformEvent(event, metadata), as in RudderStack: "
        "return the event (changed or not), null to drop it, or an array of events. Saving "
        "changed code makes a new version, which new events and replays run.",
    )

    class Meta:
        model = Transformation
        fields = ("name", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("code", self.instance.code if self.instance.pk else NEW_CODE)

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        try:
            check_code(code)
        except ValidationError as error:
            raise forms.ValidationError(with_code_line(code, error.messages[0])) from None
        return code


class SourceTransformationInline(admin.TabularInline):
    model = SourceTransformation
    fields = ("source", "position")
    ordering = ("position", "pk")
    extra = 0
    verbose_name = "source"
    verbose_name_plural = "Runs for these sources before routing"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SourceTransformation]:
        # Each row is titled "source → transformation".
        return super().get_queryset(request).select_related("source", "transformation")

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Read once for the formset: each row's select would read them again.
        field.choices = list(iter(field.choices))  # iter: no COUNT(*) first
        return field


@dataclass(frozen=True)
class VersionRow:
    version: TransformationVersion
    added: int
    removed: int
    # Import names of the libraries whose code differs from the version before.
    libraries_changed: tuple[str, ...] = ()


@admin.register(Transformation)
class TransformationAdmin(admin.ModelAdmin):
    form = TransformationForm
    list_display = ("name", "version", "attached", "updated", "try_link")
    search_fields = ("name",)
    inlines = (SourceTransformationInline,)
    readonly_fields = ("current_code", "imports", "history", "attached_destinations")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transformation]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                version_number=F("current_version__number"),
                destination_count=Count("destination_links", distinct=True),
                source_count=Count("source_links", distinct=True),
            )
        )

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/try/", view(self.try_view), name="destinations_transformation_try"
            ),
            *super().get_urls(),
        ]

    def can_edit_code(self, request: HttpRequest, obj: Transformation | None = None) -> bool:
        if not request.user.has_perm(EDIT_CODE):
            return False
        return obj is None or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self.can_edit_code(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Transformation | None = None):
        if self.can_edit_code(request, obj):
            return self.readonly_fields
        return ("name", "description", *self.readonly_fields)

    def get_form(self, request: HttpRequest, obj: Transformation | None = None, **kwargs: Any):
        if not self.can_edit_code(request, obj):
            kwargs["form"] = forms.ModelForm  # no code field to post, nor to require
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Transformation | None = None):
        code = "code" if self.can_edit_code(request, obj) else "current_code"
        fieldsets: list = [(None, {"fields": ("name", "description", code)})]
        if obj is not None:
            fieldsets[0][1]["fields"] += ("imports",)
            fieldsets += [
                ("Versions", {"fields": ("history",)}),
                ("Destinations", {"fields": ("attached_destinations",)}),
            ]
        return fieldsets

    def get_actions(self, request: HttpRequest) -> dict:
        # One at a time, from its page, which says what it is still attached to.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(
        self, request: HttpRequest, obj: Transformation, form: forms.ModelForm, change: bool
    ) -> None:
        author = request.user.get_username()
        if not change:
            created = create_transformation(
                obj.name, form.cleaned_data["code"], author, obj.description
            )
            # The admin goes on with `obj` (its inlines, messages and redirect).
            obj.pk = created.pk
            obj.refresh_from_db()
            obj._state.adding = False
            return
        if form.has_changed():
            super().save_model(request, obj, form, change)
        if "code" in form.cleaned_data and save_code(obj, form.cleaned_data["code"], author):
            number = obj.current_version.number
            self.message_user(
                request, f"The code is saved as version {number}: new events run it from now on."
            )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        transformation = self.get_object(request, unquote(object_id))
        if transformation is None or not self.has_delete_permission(request, transformation):
            return super().delete_view(request, object_id, extra_context)
        if attached := attachments(transformation):
            return self.refuse_deletion(request, transformation, attached)
        try:
            return super().delete_view(request, object_id, extra_context)
        except ProtectedError:  # attached between the confirmation page and its POST
            return self.refuse_deletion(request, transformation, attachments(transformation))

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Versions go with their transformation, though no one may delete one alone.
        perms_needed.discard(TransformationVersion._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def refuse_deletion(
        self, request: HttpRequest, transformation: Transformation, attached: str
    ) -> HttpResponse:
        self.message_user(
            request,
            f"“{transformation.name}” is attached to {attached}: detach it first. Deleting it "
            "would let their events through untransformed.",
            messages.ERROR,
        )
        url = reverse("admin:destinations_transformation_change", args=[transformation.pk])
        return HttpResponseRedirect(url)

    def try_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        transformation = self.get_object(request, unquote(object_id))
        if transformation is None:
            raise Http404("No such transformation")
        if not self.has_view_permission(request, transformation):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Test transformation “{transformation.name}”",
        }
        return trial_view(request, transformation, context)

    @admin.display(description="Version", ordering="version_number")
    def version(self, transformation: Transformation) -> str:
        number = transformation.version_number
        return f"v{number}" if number else "—"

    @admin.display(description="Attached to")
    def attached(self, transformation: Transformation) -> str:
        destinations = counted(transformation.destination_count, "destination", "destinations")
        sources = counted(transformation.source_count, "source", "sources")
        return f"{destinations}, {sources}"

    @admin.display(description="")
    def try_link(self, transformation: Transformation) -> str:
        url = reverse("admin:destinations_transformation_try", args=[transformation.pk])
        return format_html('<a href="{}">Test</a>', url)

    @admin.display(description="Code")
    def current_code(self, transformation: Transformation) -> str:
        if transformation.current_version is None:
            return "—"
        return format_html('<pre class="code" id="current-code">{}</pre>', transformation.code)

    @admin.display(description="Libraries")
    def imports(self, transformation: Transformation) -> str:
        current = transformation.current_version
        return imported_libraries(current.libraries if current else {})

    @admin.display(description="History")
    def history(self, transformation: Transformation) -> str:
        versions = list(transformation.versions.order_by("-number")[: HISTORY_SHOWN + 1])
        rows = [
            VersionRow(version, *line_changes(older, version), libraries_changed(older, version))
            for version, older in zip(versions, [*versions[1:], None], strict=True)
        ][:HISTORY_SHOWN]
        older = reverse("admin:destinations_transformationversion_changelist")
        context = {
            "rows": rows,
            "current_id": transformation.current_version_id,
            "older_url": f"{older}?transformation__id__exact={transformation.pk}"
            if len(versions) > HISTORY_SHOWN
            else "",
        }
        return render_to_string("admin/destinations/transformation/history.html", context)

    @admin.display(description="Attached to destinations")
    def attached_destinations(self, transformation: Transformation) -> str:
        links = transformation.destination_links.select_related("destination")
        rows = [
            (destination_url(link.destination_id), link.destination.name, link.position)
            for link in links.order_by("destination__name")
        ]
        if not rows:
            return "None: attach it on a destination's page, where the order is chosen."
        items = format_html_join("", '<li><a href="{}">{}</a> (position {})</li>', rows)
        return format_html('<ul id="attached-destinations">{}</ul>', items)


@admin.register(TransformationVersion)
class TransformationVersionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Versions are written by saving code, and read here; a delivery links the ones that made
    it."""

    list_display = ("__str__", "created_at", "created_by")
    list_filter = ("transformation",)
    list_select_related = ("transformation",)
    fields = (
        "transformation_link",
        "number",
        "created_at",
        "created_by",
        "code_text",
        "imports",
        "changes",
    )
    readonly_fields = fields
    change_form_template = "admin/destinations/transformation/version_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransformationVersion]:
        return super().get_queryset(request).select_related("transformation")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False  # reached from a transformation's page or a delivery's, not the menu

    @admin.display(description="Transformation")
    def transformation_link(self, version: TransformationVersion) -> str:
        transformation = version.transformation
        url = reverse("admin:destinations_transformation_change", args=[transformation.pk])
        current = " (current version)" if transformation.current_version_id == version.pk else ""
        return format_html('<a href="{}">{}</a>{}', url, transformation.name, current)

    @admin.display(description="Code")
    def code_text(self, version: TransformationVersion) -> str:
        return format_html('<pre class="code" id="version-code">{}</pre>', version.code)

    @admin.display(description="Libraries")
    def imports(self, version: TransformationVersion) -> str:
        return imported_libraries(version.libraries, with_code=True)

    @admin.display(description="Changes")
    def changes(self, version: TransformationVersion) -> str:
        older = previous_version(version)
        if older is None:
            return "The first version."
        diff = unified_diff(
            older.code.splitlines(),
            version.code.splitlines(),
            f"v{older.number}",
            f"v{version.number}",
            lineterm="",
        )
        text = "\n".join(diff) or "The same code as the version before."
        return format_html('<pre class="code" id="version-diff">{}</pre>', text)


def destination_url(destination_id: int) -> str:
    return reverse("admin:destinations_destination_change", args=[destination_id])


def previous_version(version: TransformationVersion) -> TransformationVersion | None:
    earlier = TransformationVersion.objects.filter(
        transformation_id=version.transformation_id, number__lt=version.number
    )
    return earlier.order_by("-number").first()


def line_changes(
    older: TransformationVersion | None, version: TransformationVersion
) -> tuple[int, int]:
    """Lines added and removed since the version before (all added for the first one)."""
    before, after = (older.code.splitlines() if older else []), version.code.splitlines()
    added = removed = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def libraries_changed(
    older: TransformationVersion | None, version: TransformationVersion
) -> tuple[str, ...]:
    before = older.libraries if older else {}
    return tuple(sorted(h for h, code in version.libraries.items() if before.get(h) != code))


def attachments(transformation: Transformation) -> str:
    """What runs it, as "2 destinations and 1 source"; empty when nothing does."""
    destinations = transformation.destination_links.count()
    sources = transformation.source_links.count()
    parts = [
        counted(destinations, "destination", "destinations") if destinations else "",
        counted(sources, "source", "sources") if sources else "",
    ]
    return " and ".join(part for part in parts if part)
