"""The schema registry in the admin (docs/warehouse.md, "The schema registry"): each
warehouse table with its columns and discards, the loads' history; an editor widens a column
and reloads a time range.

Read-only like the other logs (rows are written by loads); widening and reloading are POSTs
to views that call the services and need `warehouse.widen_column`, which editors have
(project/roles.py).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from infra.admin_lists import ReadOnlyAdmin, stamp

from . import reloads, selectors, services
from .forms import ReloadForm, WidenForm
from .models import Column, DiscardCount, Load, Table

WIDEN = "warehouse.widen_column"


class ColumnInline(ReadOnlyAdmin, admin.TabularInline):
    model = Column
    fields = ("name", "type", "first_seen", "first_row_id")
    readonly_fields = fields
    ordering = ("first_seen", "name")
    extra = 0
    verbose_name_plural = "columns (bookkeeping columns apart)"


class DiscardInline(ReadOnlyAdmin, admin.TabularInline):
    model = DiscardCount
    fields = ("column", "reason", "count", "updated")
    readonly_fields = fields
    ordering = ("-count", "column")
    extra = 0
    verbose_name_plural = "discards, by column and reason (the schema's discards table has each)"


@admin.register(Table)
class TableAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "name",
        "schema",
        "destination",
        "column_count",
        "rows_loaded",
        "discarded",
        "past_the_cap",
        "loaded",
    )
    list_filter = ("destination", "schema")
    search_fields = ("name",)
    fields = ("destination", "schema", "name", "first_seen", "last_loaded", "rows_loaded")
    readonly_fields = (*fields, "overflowed")
    inlines = (ColumnInline, DiscardInline)
    change_form_template = "admin/warehouse/table/change_form.html"

    def get_queryset(self, request: HttpRequest):
        return selectors.with_counts(super().get_queryset(request))

    @admin.display(description="columns")
    def column_count(self, table: Table) -> int:
        return table.columns.count()

    @admin.display(description="discarded")
    def discarded(self, table: Table) -> int:
        return selectors.discarded_total(table)

    @admin.display(description="past the column cap")
    def past_the_cap(self, table: Table) -> str:
        return ", ".join(table.overflowed) or "—"

    @admin.display(description="last loaded", ordering="last_loaded")
    def loaded(self, table: Table) -> str:
        return stamp(table.last_loaded)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/widen/",
                view(require_POST(self.widen_view)),
                name="warehouse_table_widen",
            ),
            path(
                "<path:object_id>/reload/",
                view(require_POST(self.reload_view)),
                name="warehouse_table_reload",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            context.update(
                may_widen=request.user.has_perm(WIDEN),
                widen_form=WidenForm(obj),
                reload_form=ReloadForm(),
                loads=selectors.recent_loads(obj),
                overflowed=obj.overflowed,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def widen_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        table = self.editable_table(request, object_id)
        form = WidenForm(table, request.POST)
        if not form.is_valid():
            return self.refused(request, table, form)
        column = table.columns.get(name=form.cleaned_data["column"])
        before = column.type
        try:
            services.widen_column(column, form.cleaned_data["to"])
        except services.CannotWiden as error:
            self.message_user(request, f"Not widened: {error}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"{table}.{column.name} is now {column.type} (was {before}). Reload the time "
                "range of its discarded values to fill them.",
            )
        return back_to(table)

    def reload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        table = self.editable_table(request, object_id)
        form = ReloadForm(request.POST)
        if not form.is_valid():
            return self.refused(request, table, form)
        queued = reloads.reload_range(table, form.cleaned_data["start"], form.cleaned_data["end"])
        self.message_user(
            request,
            f"Queued {queued} deliveries to reload {table.destination}: they load with its next "
            "loads, and the delivery log shows them as replays.",
        )
        return back_to(table)

    def editable_table(self, request: HttpRequest, object_id: str) -> Table:
        if not request.user.has_perm(WIDEN):
            raise PermissionDenied
        return get_object_or_404(Table, pk=object_id)

    def refused(self, request: HttpRequest, table: Table, form) -> HttpResponse:
        problems = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        self.message_user(request, f"Nothing done: {problems}", messages.ERROR)
        return back_to(table)


@admin.register(Load)
class LoadAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("loaded", "destination", "duration", "events", "rows", "per_table", "problem")
    list_filter = ("destination", "error_code")
    date_hierarchy = None
    fields = ("destination", "started_at", "duration_ms", "events", "rows", "tables")
    readonly_fields = (*fields, "error_code", "error")

    @admin.display(description="started", ordering="started_at")
    def loaded(self, load: Load) -> str:
        return stamp(load.started_at)

    @admin.display(description="duration")
    def duration(self, load: Load) -> str:
        return f"{load.duration_ms:,} ms"

    @admin.display(description="rows per table")
    def per_table(self, load: Load) -> str:
        return format_html_join(
            mark_safe("<br>"),
            "{}: {}{}",
            ((name, table["rows"], notes(table)) for name, table in sorted(load.tables.items())),
        )

    @admin.display(description="error")
    def problem(self, load: Load) -> str:
        return f"{load.error_code}: {load.error}" if load.error_code else "—"


def notes(table: dict) -> str:
    parts = []
    if table.get("new_columns"):
        parts.append(f"{len(table['new_columns'])} new columns")
    if table.get("discarded"):
        parts.append(f"{table['discarded']} discarded")
    return f" ({', '.join(parts)})" if parts else ""


def back_to(table: Table) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin:warehouse_table_change", args=[table.pk]))
