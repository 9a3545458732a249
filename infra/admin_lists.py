"""Admin lists of large tables (the delivery and attempt logs, the events list): pages read
without COUNT(*), ids shortened to fit one line, times to the second.

Here rather than in an app because the apps that show such lists may not import each other.
"""

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Ids up to this long are shown whole; longer ones (a UUID is 36) keep both ends.
SHORT_ID_LENGTH = 16
SHORT_ID_END = 6


class LookaheadPaginator(Paginator):
    """Reads the requested page plus one row: that row says whether a next page exists.

    On millions of rows a count reads them all. `count` is then the rows before the page, on
    it, and the lookahead row: the admin's ChangeList only compares it with the page size (is
    there more than one page?) and the lists' pagination template shows no total.
    """

    def __init__(self, object_list: QuerySet, per_page: int, page_number: int) -> None:
        super().__init__(object_list, per_page)
        self.page_number = page_number

    @classmethod
    def for_request(
        cls, request: HttpRequest, queryset: QuerySet, per_page: int
    ) -> "LookaheadPaginator":
        return cls(queryset, per_page, requested_page(request))

    @cached_property
    def window(self) -> list:
        offset = self.per_page * (max(self.page_number, 1) - 1)
        return list(self.object_list[offset : offset + self.per_page + 1])

    @cached_property
    def count(self) -> int:
        return self.per_page * (max(self.page_number, 1) - 1) + len(self.window)

    @property
    def has_next(self) -> bool:
        return len(self.window) > self.per_page

    def page(self, number: int) -> Page:
        """The page read; past the last row it is empty (rows may have been purged since the
        previous page was shown), not an error."""
        if number != self.page_number or number < 1:
            raise InvalidPage(f"this paginator has read page {self.page_number} only")
        return self._get_page(self.window[: self.per_page], number, self)


class LookaheadChangeList(ChangeList):
    """Shows the rows the paginator has read. On a single page the admin would list its
    queryset again, without LIMIT: a second pass over every row a selective filter skips."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        try:
            self.result_list = self.paginator.page(self.page_num).object_list
        except InvalidPage:
            raise IncorrectLookupParameters from None


def requested_page(request: HttpRequest) -> int:
    """The page number as the admin's ChangeList reads it (it falls back to 1 the same way)."""
    try:
        return int(request.GET.get(PAGE_VAR, 1))
    except ValueError:
        return 1


def short_id(value: str) -> SafeString | str:
    """An id that fits a log's line: a long one keeps its ends ("3f2a9c…4e81b0"); the whole
    of it is in the tooltip and copied on click (admin/base_site.html's data-copy-text)."""
    if not value:
        return ""
    long = len(value) > SHORT_ID_LENGTH
    shown = f"{value[:SHORT_ID_END]}…{value[-SHORT_ID_END:]}" if long else value
    return format_html(
        '<span class="short-id" title="{}" data-copy-text="{}">{}</span>', value, value, shown
    )


def cut(text: str) -> SafeString | str:
    """Free text cut to its column by the dense lists' stylesheet; the whole in the tooltip."""
    return format_html('<span class="cut" title="{}">{}</span>', text, text) if text else ""


def stamp(value: datetime) -> str:
    """To the second, as logs are read; the admin's default format stops at the minute."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def span(value: timedelta | None) -> str:
    """A latency, an age or a duration: "0.184 s", "42 s", "7 min", "3 h 20 min", "2 d 5 h";
    "—" for none."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.3f} s"
    minutes, hours = int(seconds // 60), int(seconds // 3600)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if hours < 1:
        return f"{minutes} min"
    if hours < 24:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


class ReadOnlyAdmin:
    """A log's admin (deliveries, runs, versions): rows are written by the pipeline or by a
    service, never through the admin's forms; actions that act on them check permissions of
    their own."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
