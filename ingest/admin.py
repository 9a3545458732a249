from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Event, Source
from .selectors import source_activity
from .sources import rotate_write_key


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "created")
    list_filter = ("enabled",)
    search_fields = ("name",)
    readonly_fields = ("write_key", "created", "activity")
    actions = ("rotate_keys",)

    @admin.display(description="Last 24 hours")
    def activity(self, source: Source) -> str:
        if not source.pk:
            return "-"
        stats = source_activity(source)
        reasons = ", ".join(f"{code}: {count}" for code, count in stats.rejections_by_code.items())
        return f"{stats.received} received, {stats.rejected} rejected" + (
            f" ({reasons})" if reasons else ""
        )

    @admin.action(description="Rotate the write key of the selected sources")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            rotate_write_key(source)
        messages.success(request, f"Rotated {queryset.count()} write key(s).")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source", "type", "name", "user_id", "message_id")
    list_filter = ("type", "source")
    search_fields = ("=message_id", "=user_id", "=anonymous_id")
    list_select_related = ("source",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False
