"""Paging large tables without COUNT(*): on millions of rows a count reads them all."""

from functools import cached_property

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest


class LookaheadPaginator(Paginator):
    """Reads the requested page plus one row: that row says whether a next page exists.

    `count` is then the rows before the page, on it, and the lookahead row: the admin's
    ChangeList only compares it with the page size (is there more than one page?) and the
    delivery log's pagination template shows no total.
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
