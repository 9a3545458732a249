"""Destinations: the catalog of kinds, the settings form of one kind, health, test connection."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from ..integrations import KINDS, REGISTRY
from ..models import Destination, DestinationTransformation, Mapping
from ..selectors.health import destination_health
from ..services.destinations import Unbound, add_preset_mappings, save_destination
from ..services.mapping_trial import connection_verdict
from .delivery_tags import badge
from .forms import destination_form

DELIVERY_TUNING = (
    "max_concurrency",
    "rate_limit",
    "retry_base_seconds",
    "retry_cap_seconds",
    "retry_window_seconds",
    "breaker_threshold",
    "breaker_cooldown_seconds",
)


class MappingColumns:
    """How a mapping's action and trigger read in the destination's list and on its own page."""

    @admin.display(description="Action")
    def action_title(self, mapping: Mapping) -> str:
        try:
            return mapping.action_spec.title
        except KeyError:  # an action an upgrade removed: show what is stored
            return mapping.action

    @admin.display(description="Trigger")
    def trigger_code(self, mapping: Mapping) -> str:
        return format_html("<code>{}</code>", mapping.trigger)


class MappingInline(MappingColumns, admin.TabularInline):
    """The destination's mappings at a glance; each is edited and tested on its own page."""

    model = Mapping
    fields = ("name", "action_title", "trigger_code", "enabled", "test_link")
    readonly_fields = ("name", "action_title", "trigger_code", "test_link")
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Mapping]:
        return super().get_queryset(request).select_related("destination")

    def has_add_permission(self, request: HttpRequest, obj: Destination | None = None) -> bool:
        return False  # a new mapping starts from an action: the "New mapping" button

    @admin.display(description="")
    def test_link(self, mapping: Mapping) -> str:
        url = reverse("admin:destinations_mapping_test", args=[mapping.pk])
        return format_html('<a href="{}">Test mapping</a>', url)


class TransformationInline(admin.TabularInline):
    """The transformations the destination's events go through; each is written on its own
    page."""

    model = DestinationTransformation
    fields = ("transformation", "position")
    ordering = ("position", "pk")
    extra = 0
    verbose_name = "transformation"
    verbose_name_plural = "Transformations — run in this order before the mappings"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DestinationTransformation]:
        # Each row is titled "transformation → destination".
        return super().get_queryset(request).select_related("transformation", "destination")

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Read once for the formset: each row's select would read them again.
        field.choices = list(iter(field.choices))  # iter: no COUNT(*) first
        return field


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind_name", "enabled", "mapping_count", "status")
    list_filter = ("kind", "enabled")
    list_select_related = ("state",)
    search_fields = ("name",)
    readonly_fields = ("kind_name",)
    inlines = (TransformationInline, MappingInline)
    actions = ("enable", "disable")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Destination]:
        return super().get_queryset(request).annotate(mapping_count=Count("mappings"))

    def get_inlines(self, request: HttpRequest, obj: Destination | None):
        return self.inlines if obj else ()  # a new destination's mappings are its presets

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "sources":
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("catalog/", view(self.catalog_view), name="destinations_destination_catalog"),
            path(
                "<path:object_id>/test-connection/",
                view(require_POST(self.test_connection_view)),
                name="destinations_destination_test_connection",
            ),
            *super().get_urls(),
        ]

    def get_form(self, request: HttpRequest, obj: Destination | None = None, **kwargs: Any):
        return super().get_form(
            request, obj, form=destination_form(kind_of(request, obj)), **kwargs
        )

    def get_fieldsets(self, request: HttpRequest, obj: Destination | None = None):
        form = destination_form(kind_of(request, obj))
        return [
            (None, {"fields": ("name", "kind_name", "enabled", "keep_order", "sources")}),
            ("Settings", {"fields": form.setting_keys(advanced=False)}),
            (
                "Advanced settings",
                {"fields": form.setting_keys(advanced=True), "classes": ("collapse",)},
            ),
            ("Delivery", {"fields": DELIVERY_TUNING, "classes": ("collapse",)}),
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        if kind := REGISTRY.get(request.GET.get("kind", "")):
            initial.setdefault("keep_order", kind.orders_per_user)
        return initial

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        # A destination is always of one kind, and the catalog is where a kind is chosen.
        kind = REGISTRY.get(request.GET.get("kind", ""))
        if kind is None:
            return redirect("admin:destinations_destination_catalog")
        context = {"title": f"Add {kind.name} destination", "kind": kind, **(extra_context or {})}
        return super().add_view(request, form_url, context)

    def render_change_form(
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and obj.pk:
            context.update(kind=obj.kind_spec, health=destination_health(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: Destination, form, change: bool) -> None:
        if unbound := save_destination(obj, form.typed_secrets):
            messages.warning(request, secrets_cleared(unbound))
        if not change:
            for mapping in add_preset_mappings(obj):
                messages.info(request, f"Added the preset mapping “{mapping.name}”.")

    def catalog_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add destination",
            "subtitle": "Choose what to send events to",
            "kinds": KINDS,
        }
        return TemplateResponse(request, "admin/destinations/catalog.html", context)

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        destination = self.get_object(request, unquote(object_id))
        if destination is None:
            raise Http404("No such destination")
        if not self.has_change_permission(request, destination):
            raise PermissionDenied
        check = connection_verdict(destination)
        level = messages.SUCCESS if check.ok else messages.ERROR
        self.message_user(request, f"Test connection: {check.message}", level)
        return HttpResponseRedirect(
            reverse("admin:destinations_destination_change", args=[destination.pk])
        )

    @admin.display(description="Kind", ordering="kind")
    def kind_name(self, destination: Destination) -> str:
        kind = REGISTRY.get(destination.kind)
        return kind.name if kind else destination.kind

    @admin.display(description="Mappings", ordering="mapping_count")
    def mapping_count(self, destination: Destination) -> int:
        return destination.mapping_count

    @admin.display(description="Status")
    def status(self, destination: Destination) -> str:
        state = getattr(destination, "state", None)
        if not destination.enabled:
            return badge("pending", "disabled")
        if state is not None and state.failing_since:
            return badge("failed", f"failing since {state.failing_since:%Y-%m-%d %H:%M}")
        return badge("delivered", "ok")

    @admin.action(description="Enable the selected destinations", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} destination(s).")

    @admin.action(description="Disable the selected destinations", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} destination(s).")


def secrets_cleared(unbound: Unbound) -> str:
    hosts = ", ".join(unbound.origins)
    return (
        f"The stored secrets were cleared because the destination now sends to {hosts}; "
        "type them again."
    )


def kind_of(request: HttpRequest, destination: Destination | None) -> str:
    """The kind being edited: the destination's, or the one the catalog chose for a new one."""
    return destination.kind if destination else request.GET["kind"]
