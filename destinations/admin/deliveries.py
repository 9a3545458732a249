"""The delivery log (docs/admin.md, "Delivery log"): read-only pages over deliveries and attempts,
filtered and searched on indexed columns and paged without COUNT(*); replays go through
services.replays."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.messages import SUCCESS, WARNING
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from infra.admin_lists import ReadOnlyAdmin, cut, short_id, stamp

from ..models import Delivery, DeliveryAttempt, TransformationVersion
from ..selectors import deliveries as selectors
from ..selectors.retention import Hold, held_partitions
from ..services.replays import replay_deliveries
from . import delivery_filters as filters
from .delivery_forms import ReplayRangeForm
from .delivery_tags import status_badge
from .pagination import LookaheadChangeList, LookaheadPaginator

TEMPLATES = "admin/destinations/delivery"


class QueueFilter(filters.LinkFilter):
    """Work not done yet, as the overview counts it: its backlog and pending figures link
    here. Folded until used, like the error codes."""

    title = "queue"
    parameter_name = "queue"
    folded = True
    STATUSES = {
        "due": (Delivery.Status.PENDING, Delivery.Status.RETRYING),
        "waiting": (Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT),
        "unfinished": (
            Delivery.Status.PENDING,
            Delivery.Status.HELD,
            Delivery.Status.IN_FLIGHT,
            Delivery.Status.RETRYING,
        ),
    }

    def lookups(self, request, model_admin):
        return [
            ("due", "Due now"),
            ("waiting", "Pending or in flight"),
            ("unfinished", "Not finished"),
        ]

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        statuses = self.STATUSES.get(self.value() or "")
        if statuses is None:
            return queryset
        queryset = queryset.filter(status__in=statuses)
        if self.value() == "due":
            return queryset.filter(next_attempt_at__lte=timezone.now())
        return queryset


class ReadOnlyLogAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Rows only the dispatcher writes: viewed, never added, edited or deleted by hand, and paged
    by LookaheadPaginator. Each switch below turns off something that counts or sorts the table."""

    show_full_result_count = False
    # One line per row (admin/dense_change_list.html): 50 fill a screen or two.
    list_per_page = 50
    show_facets = admin.ShowFacets.NEVER
    list_max_show_all = 0
    # Its "select all N" link needs a total; a range replay is the way to act on many rows.
    actions_selection_counter = False
    sortable_by = ()
    date_hierarchy = None
    detail_template = ""

    def get_paginator(self, request: HttpRequest, queryset: QuerySet, per_page: int, *_, **__):
        return LookaheadPaginator.for_request(request, queryset, per_page)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[LookaheadChangeList]:
        return LookaheadChangeList

    def change_view(self, request: HttpRequest, object_id: str, *_, **__) -> HttpResponse:
        """A page of its own rather than a read-only form, reading what it shows in a fixed
        number of queries."""
        if request.method not in ("GET", "HEAD") or not self.has_view_permission(request):
            raise PermissionDenied
        pk = unquote(object_id)
        detail = self.read_detail(int(pk)) if pk.isdigit() else None
        if detail is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = self.admin_site.each_context(request) | self.detail_context(request, detail)
        return TemplateResponse(request, self.detail_template, {"opts": self.opts, **context})

    def read_detail(self, pk: int) -> Any:
        raise NotImplementedError

    def detail_context(self, request: HttpRequest, detail: Any) -> dict[str, Any]:
        raise NotImplementedError


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyLogAdmin):
    list_display = (
        "created",
        "badge",
        "destination_name",
        "mapping_name",
        "event_name",
        "message_id",
        "user_id",
        "tries",
        "answer",
        "error_code",
        "replay_mark",
    )
    list_filter = (
        filters.StatusFilter,
        QueueFilter,
        filters.DestinationFilter,
        filters.MappingFilter,
        filters.ErrorCodeFilter,
        filters.ReplayFilter,
        filters.CreatedWithinFilter,
        filters.CreatedBetweenFilter,
    )
    list_select_related = ("destination", "mapping", "event")
    # No search_fields: get_search_results searches, as "=field" would mean iexact (UPPER() or
    # LIKE, which no index answers); the search form template shows the box regardless.
    search_help_text = "An exact messageId or userId."
    ordering = ("-created_at",)
    actions = ("retry_selected",)
    # The log's detail page, and the transformation versions that made the delivery.
    detail_template = "admin/destinations/transformation/delivery_detail.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return selectors.delivery_log()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str
    ) -> tuple[QuerySet[Delivery], bool]:
        term = search_term.strip()
        return (selectors.with_message_or_user_id(queryset, term) if term else queryset), False

    @property
    def retention_days(self) -> int:
        """What a search with no time range looked through (the search form says so)."""
        return settings.EVENT_RETENTION_DAYS

    @admin.display(description="Created")
    def created(self, delivery: Delivery) -> str:
        return stamp(delivery.created_at)

    @admin.display(description="Status")
    def badge(self, delivery: Delivery) -> str:
        if delivery.status == Delivery.Status.HELD and delivery.waits_on:
            url = reverse("admin:destinations_delivery_change", args=[delivery.waits_on])
            return format_html(
                '{} <a class="waits-on" href="{}">waiting for {}</a>',
                status_badge(delivery.status),
                url,
                delivery.waits_on,
            )
        return status_badge(delivery.status)

    @admin.display(description="Tries")
    def tries(self, delivery: Delivery) -> int:
        return delivery.attempts

    @admin.display(description="HTTP")
    def answer(self, delivery: Delivery) -> str:
        return str(delivery.last_status_code or "")

    @admin.display(description="Replay")
    def replay_mark(self, delivery: Delivery) -> str:
        # A blank for originals: Django's red "no" icon on every row read like an error.
        return "replay" if delivery.replay else ""

    @admin.display(description="Destination")
    def destination_name(self, delivery: Delivery) -> str:
        return cut(delivery.destination.name)

    @admin.display(description="Mapping")
    def mapping_name(self, delivery: Delivery) -> str:
        return cut(delivery.mapping.name)

    @admin.display(description="Event")
    def event_name(self, delivery: Delivery) -> str:
        return cut(f"{delivery.event.type} {delivery.event.name}".strip())

    @admin.display(description="messageId")
    def message_id(self, delivery: Delivery) -> str:
        return short_id(delivery.event.message_id)

    @admin.display(description="userId")
    def user_id(self, delivery: Delivery) -> str:
        return short_id(delivery.event.user_id)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        # Replaying changes what destinations receive, so it takes the model's change
        # permission, though no row is ever edited.
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Retry selected deliveries", permissions=["replay"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        queued = replay_deliveries(selected)
        message = f"Queued {counted(queued, 'replay', 'replays')}"
        if skipped := len(selected) - queued:
            message += (
                f"; skipped {counted(skipped, 'delivery', 'deliveries')} still pending, retrying"
                " or in flight (only delivered and failed deliveries are sent again)"
            )
        self.message_user(request, f"{message}.", SUCCESS if queued else WARNING)

    def get_urls(self) -> list:
        replay = self.admin_site.admin_view(self.replay_range_view)
        # Before the admin's own URLs: their "<object_id>/" pattern would take "replay/".
        return [path("replay/", replay, name="destinations_delivery_replay"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra = {"replay_range_url": self.replay_range_url(request)}
        for hold in held_partitions():
            message = f"Retention keeps {hold.partition} past its time: {held_by(hold)}."
            self.message_user(request, message, WARNING)
        return super().changelist_view(request, extra | (extra_context or {}))

    def replay_range_url(self, request: HttpRequest) -> str | None:
        """The range form, filled in with the destination and dates the log is filtered by."""
        if not self.has_replay_permission(request):
            return None
        prefill = {"destination": "destination", "start": "created_from", "end": "created_to"}
        initial = {field: request.GET[p] for field, p in prefill.items() if request.GET.get(p)}
        url = reverse("admin:destinations_delivery_replay")
        return f"{url}?{urlencode(initial)}" if initial else url

    def replay_range_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_replay_permission(request):
            raise PermissionDenied
        form = ReplayRangeForm(
            request.POST if request.method == "POST" else None, initial=request.GET.dict()
        )
        if form.is_valid():
            queued, what = form.replay()
            queued_text = f"{counted(queued, 'delivery', 'deliveries')} queued"
            self.message_user(request, f"{what}: {queued_text}.", SUCCESS if queued else WARNING)
            replays = {"destination": form.cleaned_data["destination"].pk, "replay": "yes"}
            changelist = reverse("admin:destinations_delivery_changelist")
            return HttpResponseRedirect(f"{changelist}?{urlencode(replays)}")
        context = self.admin_site.each_context(request) | {
            "opts": self.opts,
            "title": "Replay a time range",
            "form": form,
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, f"{TEMPLATES}/replay_range.html", context)

    def read_detail(self, pk: int) -> selectors.DeliveryDetail | None:
        return selectors.delivery_detail(pk)

    def detail_context(self, request: HttpRequest, detail: selectors.DeliveryDetail) -> dict:
        delivery = detail.delivery
        return {
            "title": f"Delivery {delivery.pk}",
            "subtitle": f"{delivery.event} → {delivery.destination}",
            "detail": detail,
            "delivery": delivery,
            "transformed_by": versions_that_ran(delivery.transformed_by),
            "can_retry": self.has_replay_permission(request)
            and delivery.status in (Delivery.Status.DELIVERED, Delivery.Status.FAILED),
        }


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyLogAdmin):
    list_display = (
        "started",
        "destination_name",
        "mapping_name",
        "request_method",
        "answer",
        "outcome",
        "item_count",
        "duration_ms",
    )
    list_filter = (filters.DestinationFilter, filters.OutcomeFilter)
    list_select_related = ("destination", "mapping")
    # Ids follow the order attempts are written in: newest first from the primary key's index,
    # where started_at has no index of its own.
    ordering = ("-pk",)
    detail_template = "admin/destinations/deliveryattempt/detail.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeliveryAttempt]:
        return selectors.attempt_log()

    @admin.display(description="Started")
    def started(self, attempt: DeliveryAttempt) -> str:
        return stamp(attempt.started_at)

    @admin.display(description="Destination")
    def destination_name(self, attempt: DeliveryAttempt) -> str:
        return cut(attempt.destination.name)

    @admin.display(description="Mapping")
    def mapping_name(self, attempt: DeliveryAttempt) -> str:
        return cut(attempt.mapping.name)

    @admin.display(description="Answer")
    def answer(self, attempt: DeliveryAttempt) -> str:
        return str(attempt.response_status or attempt.error_code or "-")

    def read_detail(self, pk: int) -> selectors.AttemptDetail | None:
        return selectors.attempt_detail(pk)

    def detail_context(self, request: HttpRequest, detail: selectors.AttemptDetail) -> dict:
        attempt = detail.attempt
        return {"title": f"Attempt {attempt.pk}", "subtitle": str(attempt), "detail": detail}


@dataclass(frozen=True)
class VersionThatRan:
    pk: int
    label: str  # "Redact PII v3"
    exists: bool  # its transformation may have been deleted since


def versions_that_ran(version_ids: list[int] | None) -> list[VersionThatRan]:
    """The transformation versions of a delivery's transformed_by, in the order they ran,
    named in one query."""
    if not version_ids:
        return []
    versions = (
        TransformationVersion.objects.filter(pk__in=version_ids)
        .select_related("transformation")
        .only("number", "transformation__name")
    )
    labels = {version.pk: str(version) for version in versions}
    return [
        VersionThatRan(pk, labels.get(pk, f"a deleted transformation's version {pk}"), pk in labels)
        for pk in version_ids
    ]


def held_by(hold: Hold) -> str:
    if hold.unrouted_events:
        unrouted = counted(hold.unrouted_events, "event", "events")
        return f"{unrouted} not routed yet (see /healthz); it goes once the router has them"
    live = counted(hold.live_deliveries, "delivery", "deliveries")
    return f"{live} still being tried; it goes once they are done"


def counted(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"
