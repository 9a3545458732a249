"""Sources (write key, rotation, the last 24 hours) and their live event debugger."""

import json
from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from infra.admin_lists import LookaheadChangeList, LookaheadPaginator, cut, short_id, stamp

from .models import Event, Source
from .normalize import MESSAGE_TYPES
from .selectors import latest_events, source_activity
from .sources import rotate_write_key

DEBUGGER_EVENTS = 50
DEBUGGER_REFRESH_SECONDS = 3


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "created", "debugger_link")
    list_filter = ("enabled",)
    search_fields = ("name",)
    fields = ("name", "enabled", "rate_limit", "write_key_shown", "created")
    readonly_fields = ("write_key_shown", "created")
    actions = ("rotate_keys",)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/rotate-write-key/",
                view(require_POST(self.rotate_write_key_view)),
                name="ingest_source_rotate_write_key",
            ),
            path(
                "<path:object_id>/debugger/",
                view(self.debugger_view),
                name="ingest_source_debugger",
            ),
            path(
                "<path:object_id>/debugger/events/",
                view(self.debugger_events_view),
                name="ingest_source_debugger_events",
            ),
            *super().get_urls(),
        ]

    def get_fields(self, request: HttpRequest, obj: Source | None = None):
        # A write key is a credential (whoever holds it can send events): for those who may
        # change the source, as on getting started.
        if self.has_change_permission(request, obj):
            return self.fields
        return tuple(field for field in self.fields if field != "write_key_shown")

    @admin.display(description="Write key")
    def write_key_shown(self, source: Source) -> str:
        if not source.pk:
            return "Generated when the source is saved."
        return format_html(
            '<code id="write-key">{}</code> '
            '<button type="button" class="button copy-button" data-copy="write-key" '
            'id="copy-write-key">Copy</button>',
            source.write_key,
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        # Rendered by the page (not a read-only field) so it knows who looks: the latest
        # rejected examples are payloads, hidden from viewers.
        source = self.get_object(request, object_id)
        extra = {"activity": source_activity(source)} if source else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    @admin.display(description="")
    def debugger_link(self, source: Source) -> str:
        url = reverse("admin:ingest_source_debugger", args=[source.pk])
        return format_html('<a href="{}">Event debugger</a>', url)

    def rotate_write_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        source = self.changeable_source(request, object_id)
        rotate_write_key(source)
        self.message_user(request, f"“{source}” has a new write key; the old one no longer works.")
        return HttpResponseRedirect(reverse("admin:ingest_source_change", args=[source.pk]))

    def debugger_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        source = self.changeable_source(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": source,
            "title": f"Event debugger: {source}",
            "refresh_seconds": DEBUGGER_REFRESH_SECONDS,
            "events_url": reverse("admin:ingest_source_debugger_events", args=[source.pk]),
            **debugger_context(source),
        }
        return TemplateResponse(request, "admin/ingest/source/debugger.html", context)

    def debugger_events_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The debugger's list alone: the page fetches it every few seconds."""
        source = self.changeable_source(request, object_id)
        return TemplateResponse(
            request, "admin/ingest/source/debugger_events.html", debugger_context(source)
        )

    def changeable_source(self, request: HttpRequest, object_id: str) -> Source:
        # Payloads and key rotation are for editors; viewers read counts only (docs/security.md,
        # "Roles").
        source = self.get_object(request, unquote(object_id))
        if source is None:
            raise Http404("No such source")
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        return source

    @admin.action(
        description="Rotate the write key of the selected sources", permissions=["change"]
    )
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            rotate_write_key(source)
        self.message_user(request, f"Rotated {queryset.count()} write key(s).")


def debugger_context(source: Source) -> dict:
    events = latest_events([source.pk], DEBUGGER_EVENTS)
    return {
        "events": [
            (event, json.dumps(event.payload, indent=2, ensure_ascii=False)) for event in events
        ]
    }


class EventTypeFilter(admin.SimpleListFilter):
    """The message types the Tracking API takes: the admin's own filter would read every
    event (SELECT DISTINCT) to list them."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(MESSAGE_TYPES)]

    def queryset(self, request, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(type=self.value()) if self.value() else queryset


class ReceivedWithinFilter(admin.SimpleListFilter):
    """Recent events; the overview's "received in the last 24 hours" links here."""

    title = "received"
    parameter_name = "received"
    PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]

    def queryset(self, request, queryset: QuerySet[Event]) -> QuerySet[Event]:
        period = self.PERIODS.get(self.value() or "")
        return queryset.filter(received_at__gte=timezone.now() - period) if period else queryset


class RoutedFilter(admin.SimpleListFilter):
    """Events the router has not taken yet (a partial index holds them): the overview's
    backlog links here."""

    title = "routed"
    parameter_name = "routed"

    def lookups(self, request, model_admin):
        return [("no", "Waiting for the router"), ("yes", "Routed")]

    def queryset(self, request, queryset: QuerySet[Event]) -> QuerySet[Event]:
        if self.value() not in ("yes", "no"):
            return queryset
        return queryset.filter(routed_at__isnull=self.value() == "no")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events one line each, paged without a COUNT(*) (infra/admin_lists.py) and filtered on
    indexed columns or fixed choices only: the table holds millions of rows."""

    list_display = ("received", "source", "type", "event_name", "user_shown", "message_shown")
    list_filter = (EventTypeFilter, "source", ReceivedWithinFilter, RoutedFilter)
    search_fields = ("=message_id", "=user_id", "=anonymous_id")
    search_help_text = "A messageId, userId or anonymousId."
    list_select_related = ("source",)
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_max_show_all = 0
    sortable_by = ()
    ordering = ("-received_at",)
    fields = (
        ("source", "type", "name"),
        ("message_id", "user_id", "anonymous_id"),
        ("timestamp", "received_at", "routed_at"),
        "payload_shown",
    )
    readonly_fields = ("payload_shown",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def get_paginator(self, request: HttpRequest, queryset: QuerySet, per_page: int, *_, **__):
        return LookaheadPaginator.for_request(request, queryset, per_page)

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[LookaheadChangeList]:
        return LookaheadChangeList

    @property
    def retention_days(self) -> int:
        """What a search with no time range looked through (the search form says so)."""
        return settings.EVENT_RETENTION_DAYS

    def get_fields(self, request: HttpRequest, obj: Event | None = None):
        if request.user.has_perm("ingest.view_payloads"):
            return self.fields
        return self.fields[:-1]  # the payload may carry personal data

    @admin.display(description="Received")
    def received(self, event: Event) -> str:
        return stamp(event.received_at)

    @admin.display(description="Name")
    def event_name(self, event: Event) -> str:
        return cut(event.name)

    @admin.display(description="userId")
    def user_shown(self, event: Event) -> str:
        return short_id(event.user_id)

    @admin.display(description="messageId")
    def message_shown(self, event: Event) -> str:
        return short_id(event.message_id)

    @admin.display(description="Payload")
    def payload_shown(self, event: Event) -> str:
        return format_html(
            '<pre class="json">{}</pre>', json.dumps(event.payload, indent=2, ensure_ascii=False)
        )
