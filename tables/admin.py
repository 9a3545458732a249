"""Table sources in the admin: the form (a write-only connection URL), Test connection,
Preview, Run now and the run history; and the runs as a read-only log.

Viewers see table sources and their runs, never the connection URL nor a row's values:
Preview shows rows and needs change permission and ingest.view_payloads, and a run's error
text (a database's message can quote a row) needs ingest.view_payloads.
"""

from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from infra.admin_lists import ReadOnlyAdmin, span, stamp

from . import selectors, services
from .forms import TableSourceForm
from .models import Run, TableSource

PAYLOADS = "ingest.view_payloads"
# The admin's stylesheet colours badges by the delivery log's statuses.
BADGE_CLASSES = {
    Run.Status.QUEUED: "pending",
    Run.Status.RUNNING: "in_flight",
    Run.Status.SUCCEEDED: "delivered",
    Run.Status.FAILED: "failed",
}
RUN_COUNTS = ("rows_read", "added", "changed", "deleted", "unchanged", "rejected", "events")


@admin.register(TableSource)
class TableSourceAdmin(admin.ModelAdmin):
    form = TableSourceForm
    list_display = ("name", "source", "enabled", "schedule", "last_run", "last_run_at")
    list_filter = ("enabled",)
    list_select_related = ("source",)
    search_fields = ("name",)
    actions = ("enable", "disable")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TableSource]:
        return selectors.with_latest_run(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: TableSource | None = None):
        # Only who may set the URL sees the field at all: read-only, the admin would show the
        # model's `connection_url`, decrypted.
        editable = self.has_change_permission(request, obj) if obj else True
        connection = ["connection_url"] if editable else []
        return [
            (None, {"fields": ("name", "source", "enabled")}),
            ("Read", {"fields": (*connection, "table", "query", "timeout_seconds")}),
            (
                "Rows → events",
                {
                    "fields": (
                        "key_columns",
                        ("identity_column", "identity"),
                        ("emit", "event_name"),
                        "columns",
                        "timestamp_column",
                    )
                },
            ),
            ("Sync", {"fields": ("changes", "emit_deleted", "schedule_minutes")}),
        ]

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/test-connection/",
                view(require_POST(self.test_connection_view)),
                name="tables_tablesource_test_connection",
            ),
            path(
                "<path:object_id>/preview/",
                view(self.preview_view),
                name="tables_tablesource_preview",
            ),
            path(
                "<path:object_id>/run-now/",
                view(require_POST(self.run_now_view)),
                name="tables_tablesource_run_now",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and obj.pk:
            runs_url = reverse("admin:tables_run_changelist")
            context.update(
                runs=[HistoryRow.of(run) for run in selectors.recent_runs(obj)],
                all_runs_url=f"{runs_url}?table_source__id__exact={obj.pk}",
                can_preview=self.has_preview_permission(request, obj),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_deleted_objects(self, objs, request: HttpRequest):
        # Runs and row states go with their table source: counted rather than listed (a
        # table has millions of rows), and needing no permission of their own.
        sources = list(objs)
        counts = {
            "table sources": len(sources),
            "runs": Run.objects.filter(table_source__in=sources).count(),
        }
        return [str(source) for source in sources], counts, set(), []

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        source = self.changeable_source(request, object_id)
        ok, answer = services.check_connection(source)
        if ok:
            self.message_user(request, f"Test connection: {answer}", messages.SUCCESS)
        else:
            self.message_user(request, f"Test connection failed: {answer}", messages.ERROR)
        return back_to(source)

    def run_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        source = self.changeable_source(request, object_id)
        try:
            services.request_run(source)
        except services.AlreadyActive as active:
            self.message_user(request, f"{active}: wait for it to finish.", messages.WARNING)
        else:
            self.message_user(request, f"Queued a run of “{source}”; its history is below.")
        return back_to(source)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        source = self.changeable_source(request, object_id)
        if not self.has_preview_permission(request, source):
            raise PermissionDenied
        preview = services.preview(source)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": source,
            "title": f"Preview: {source}",
            "preview": preview,
            "rows": selectors.preview_rows(preview),
            "row_limit": services.PREVIEW_ROWS,
        }
        return TemplateResponse(request, "admin/tables/tablesource/preview.html", context)

    def changeable_source(self, request: HttpRequest, object_id: str) -> TableSource:
        source = self.get_object(request, unquote(object_id))
        if source is None:
            raise Http404("No such table source")
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        return source

    def has_preview_permission(self, request: HttpRequest, source: TableSource) -> bool:
        # A preview shows the table's rows: personal data, as payloads are.
        return self.has_change_permission(request, source) and request.user.has_perm(PAYLOADS)

    @admin.display(description="Schedule", ordering="schedule_minutes")
    def schedule(self, source: TableSource) -> str:
        minutes = source.schedule_minutes
        return f"every {minutes} min" if minutes else "manual"

    @admin.display(description="Latest run", ordering="last_run_status")
    def last_run(self, source: TableSource) -> str:
        return run_badge(source.last_run_status) if source.last_run_status else "-"

    @admin.display(description="Latest run queued", ordering="last_run_at")
    def last_run_at(self, source: TableSource) -> str:
        return stamp(source.last_run_at) if source.last_run_at else "-"

    @admin.action(description="Enable the selected table sources", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[TableSource]) -> None:
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} table source(s).")

    @admin.action(description="Disable the selected table sources", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[TableSource]) -> None:
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} table source(s).")


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Written by the runs alone: viewed, never added, edited or deleted by hand."""

    list_display = (
        "queued",
        "table_source",
        "trigger",
        "badge",
        *RUN_COUNTS,
        "took",
        "error_kind",
        "error_text",
    )
    list_filter = ("status", "trigger", "table_source", "error_kind")
    list_select_related = ("table_source",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = (
        ("table_source", "trigger", "status"),
        ("queued_at", "started_at", "heartbeat_at", "finished_at"),
        (*RUN_COUNTS, "took"),
        "error_kind",
        "error_text",
    )
    readonly_fields = ("took", "error_text")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        return selectors.run_log()

    def get_list_display(self, request: HttpRequest):
        return self.list_display if request.user.has_perm(PAYLOADS) else self.list_display[:-1]

    def get_fields(self, request: HttpRequest, obj: Run | None = None):
        # A database's error message can quote the row it choked on.
        return self.fields if request.user.has_perm(PAYLOADS) else self.fields[:-1]

    @admin.display(description="Queued", ordering="queued_at")
    def queued(self, run: Run) -> str:
        return stamp(run.queued_at)

    @admin.display(description="Status", ordering="status")
    def badge(self, run: Run) -> str:
        return run_badge(run.status)

    @admin.display(description="Duration")
    def took(self, run: Run) -> str:
        return span(run.duration)

    @admin.display(description="Error")
    def error_text(self, run: Run) -> str:
        return run.error


@dataclass(frozen=True)
class HistoryRow:
    """A run as the table source's page lists it."""

    run: Run
    badge: str
    duration: str
    error: str  # for who may see payloads only

    @classmethod
    def of(cls, run: Run) -> "HistoryRow":
        return cls(run, run_badge(run.status), span(run.duration), run.error)


def run_badge(status: str) -> str:
    badge_class = BADGE_CLASSES.get(status, "pending")
    return format_html('<span class="badge badge-{}">{}</span>', badge_class, status)


def back_to(source: TableSource) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin:tables_tablesource_change", args=[source.pk]))
