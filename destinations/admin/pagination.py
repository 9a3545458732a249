"""Paging large tables without COUNT(*): the paginator lives in infra/admin_lists.py, shared
with the events list (ingest may not import destinations)."""

from infra.admin_lists import LookaheadChangeList, LookaheadPaginator, requested_page

__all__ = ["LookaheadChangeList", "LookaheadPaginator", "requested_page"]
