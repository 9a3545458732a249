"""Template helpers of the delivery log: status badges, readable JSON, page links."""

from typing import Any

import orjson
from django import template
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import Delivery

register = template.Library()
STATUS_LABELS = dict(Delivery.Status.choices)


@register.filter
def status_badge(status: str) -> SafeString:
    """The badge the admin's stylesheet colours by status (`badge badge-failed`, ...)."""
    return format_html(
        '<span class="badge badge-{}">{}</span>', status, STATUS_LABELS.get(status, status)
    )


@register.filter
def pretty_json(value: Any) -> str:
    """JSON indented for reading; text that is not JSON (an excerpt cut short, HTML) as is."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@register.simple_tag
def page_url(changelist: ChangeList, number: int) -> str:
    return changelist.get_query_string({PAGE_VAR: number})
