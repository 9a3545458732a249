from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..forms import destination_form
from ..models import Destination, Mapping
from ..services import add_preset_mappings


class MappingInline(admin.TabularInline):
    model = Mapping
    fields = ("name", "action", "trigger", "enabled")
    readonly_fields = ("action",)
    extra = 0
    show_change_link = True


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "enabled", "updated")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    inlines = (MappingInline,)

    def get_form(self, request: HttpRequest, obj: Destination | None = None, **kwargs: Any):
        return destination_form(obj.kind if obj else request.GET.get("kind", "metronome"))

    def get_fieldsets(self, request: HttpRequest, obj: Destination | None = None):
        form = self.get_form(request, obj)
        return [
            (None, {"fields": ("name", "enabled", "sources", *form.setting_keys(advanced=False))}),
            ("Advanced", {"fields": form.setting_keys(advanced=True), "classes": ("collapse",)}),
        ]

    def save_model(self, request: HttpRequest, obj: Destination, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            add_preset_mappings(obj)


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    list_display = ("name", "destination", "action", "trigger", "enabled")
    list_filter = ("enabled", "destination")
    search_fields = ("name", "trigger")
