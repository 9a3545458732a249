"""Mappings: created from an action, trigger and fields edited with the action's schema at
hand, and tried on an event (dry run, or a real send of that one event)."""

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ingest.selectors import latest_events

from ..integrations.base import NO_DEFAULT, Action
from ..models import Destination, Mapping
from ..selectors.health import filtered_counts
from ..services.destinations import save_mapping
from ..services.mapping_trial import dry_run, send_test_event
from .destinations import MappingColumns, secrets_cleared
from .forms import MappingForm, SampleEventForm, new_mapping_form

RECENT_EVENTS = 20
URL_CHANGE_HELP = (
    "A URL with a scheme, host or port that none of the destination's mappings names yet clears "
    "the destination's stored secrets: type them again on its page."
)


@admin.register(Mapping)
class MappingAdmin(MappingColumns, admin.ModelAdmin):
    form = MappingForm
    list_display = ("name", "destination", "action_title", "trigger_code", "enabled")
    list_filter = ("enabled", "destination")
    list_select_related = ("destination",)
    search_fields = ("name", "trigger")
    readonly_fields = ("destination_link", "action_title", "action_schema", "filtered_24h")

    def get_fieldsets(self, request: HttpRequest, obj: Mapping | None = None):
        action = edited_action(request, obj)
        sends_to_urls = action is not None and any(f.type == "url" for f in action.fields)
        url_help = URL_CHANGE_HELP if sends_to_urls else None
        fieldsets = [
            (None, {"fields": ("destination_link", "action_title", "name", "enabled")}),
            ("Trigger", {"fields": ("trigger",)}),
            ("Fields", {"fields": ("fields", "action_schema"), "description": url_help}),
            ("Batching", {"fields": ("batch_size", "flush_interval"), "classes": ("collapse",)}),
        ]
        if obj is not None:
            fieldsets.insert(1, ("Last 24 hours", {"fields": ("filtered_24h",)}))
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Mapping, form, change: bool) -> None:
        if unbound := save_mapping(obj):
            messages.warning(request, secrets_cleared(unbound))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/test/", view(self.test_view), name="destinations_mapping_test"),
            *super().get_urls(),
        ]

    def get_form(self, request: HttpRequest, obj: Mapping | None = None, **kwargs: Any):
        if obj is None:
            destination, action = new_mapping_target(request)
            kwargs["form"] = new_mapping_form(destination, action)
        return super().get_form(request, obj, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        _destination, action = new_mapping_target(request)
        return {
            "name": action.title,
            "trigger": action.default_trigger,
            "fields": action.default_fields(),
        }

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        # A mapping belongs to a destination and does one of its kind's actions: both are
        # picked first, then the form opens with the action's defaults.
        if new_mapping_target(request) is None:
            return self.pick_action_view(request)
        return super().add_view(request, form_url, extra_context)

    def pick_action_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        destinations = Destination.objects.all()
        if (chosen := request.GET.get("destination", "")).isdigit():
            destinations = destinations.filter(pk=chosen)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "New mapping",
            "subtitle": "Choose an action",
            "destinations": list(destinations),
        }
        return TemplateResponse(request, "admin/destinations/mapping/pick_action.html", context)

    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        mapping = self.get_object(request, unquote(object_id))
        if mapping is None:
            raise Http404("No such mapping")
        if not self.has_change_permission(request, mapping):
            raise PermissionDenied
        source_ids = list(mapping.destination.sources.values_list("pk", flat=True))
        recent = latest_events(source_ids, RECENT_EVENTS, with_payload=False)
        form = SampleEventForm(request.POST or None, recent=recent, source_ids=source_ids)
        preview = sent = None
        if form.is_valid():
            event = form.chosen_event
            if "send" in request.POST:
                sent = send_test_event(mapping, event)
                preview = sent.dry_run
            else:
                preview = dry_run(mapping, event)
            # Show the event tried, ready to edit; a chosen recent one becomes the text.
            form = SampleEventForm(initial={"event": event}, recent=recent, source_ids=source_ids)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": mapping,
            "action_title": self.action_title(mapping),
            "title": f"Test mapping “{mapping.name}”",
            "form": form,
            "preview": preview,
            "sent": sent,
        }
        return TemplateResponse(request, "admin/destinations/mapping/test_mapping.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Mapping]:
        return super().get_queryset(request).select_related("destination")

    @admin.display(description="Destination")
    def destination_link(self, mapping: Mapping) -> str:
        destination = mapping.destination
        url = reverse("admin:destinations_destination_change", args=[destination.pk])
        return format_html('<a href="{}">{}</a> ({})', url, destination, destination.kind_spec.name)

    @admin.display(description="Action's fields")
    def action_schema(self, mapping: Mapping) -> str:
        try:
            action = mapping.action_spec
        except KeyError:
            return "-"
        fields = [
            (field, "" if field.default is NO_DEFAULT else json.dumps(field.default))
            for field in action.fields
        ]
        return render_to_string(
            "admin/destinations/mapping/action_schema.html", {"action": action, "fields": fields}
        )

    @admin.display(description="Events not taken")
    def filtered_24h(self, mapping: Mapping) -> str:
        counts = filtered_counts(mapping)
        return format_html(
            "{} by the trigger, {} by the event's integrations object",
            counts.get("trigger", 0),
            counts.get("integrations", 0),
        )


def edited_action(request: HttpRequest, mapping: Mapping | None) -> Action | None:
    if mapping is None:
        target = new_mapping_target(request)
        return target[1] if target else None
    try:
        return mapping.action_spec
    except KeyError:  # an action an upgrade removed
        return None


def new_mapping_target(request: HttpRequest) -> tuple[Destination, Action] | None:
    """The destination and action a new mapping is for, from the query string."""
    destination_id, action_key = request.GET.get("destination", ""), request.GET.get("action")
    if not destination_id.isdigit() or action_key is None:
        return None
    destination = Destination.objects.filter(pk=destination_id).first()
    if destination is None:
        return None
    try:
        return destination, destination.kind_spec.action(action_key)
    except KeyError:
        return None
