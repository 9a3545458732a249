"""Template helpers of the admin: status badges, readable JSON, page links, the hourly bar
charts of health and the overview, and the overview's figures."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django import template
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from infra import admin_lists

from ..models import Delivery

register = template.Library()
STATUS_LABELS = dict(Delivery.Status.choices)


@register.filter
def status_badge(status: str) -> SafeString:
    """A delivery status as a badge, labelled as the model labels it."""
    return badge(status, STATUS_LABELS.get(status, status))


def badge(status: str, text: str) -> SafeString:
    """The badge the admin's stylesheet colours by status (`badge badge-failed`, ...)."""
    return format_html('<span class="badge badge-{}">{}</span>', status, text)


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


# --- Hourly bar charts: the destination's health and the overview's rows share them. ---------

# viewBox units: an hour's slot, its bar, the tallest bar, and room below it for hour labels.
HOUR_SLOT = 12
BAR_WIDTH = 10
PLOT_HEIGHT = 60
LABELLED_HEIGHT = 70
LABEL_EVERY = 6  # hours


@dataclass(frozen=True)
class BarPart:
    series: str  # the rect's class, which the stylesheet colours: delivered, failed, ...
    y: str
    height: str


@dataclass(frozen=True)
class HourBar:
    x: int
    title: str
    parts: list[BarPart]
    label: str


@register.inclusion_tag("admin/charts/hours.html")
def hour_chart(
    hours: list[Any], series: str, css_class: str, height: int, label: str = "", **options: Any
) -> dict[str, Any]:
    """Stacked bars per hour, in server-rendered SVG. `hours` are objects with a datetime
    `hour` and a count per name in `series` ("delivered failed"), drawn bottom up in that
    order. Options: chart_id (the svg's id), labels (hour labels below, default true)."""
    names = series.split()
    tallest = max([1, *(sum(getattr(hour, name) for name in names) for hour in hours)])
    labels = options.get("labels", True)
    view_height = LABELLED_HEIGHT if labels else PLOT_HEIGHT + 1
    bars = [
        hour_bar(n, hour, names, tallest, labels and labelled(n, len(hours)))
        for n, hour in enumerate(hours)
    ]
    width = HOUR_SLOT * len(hours)
    return {
        "bars": bars,
        "css_class": css_class,
        "chart_id": options.get("chart_id", ""),
        "label": label,
        "tallest": tallest,
        "width": width,
        "view_height": view_height,
        "baseline": PLOT_HEIGHT + 0.5,
        "pixel_height": height,
        "pixel_width": round(width * height / view_height),
        "label_y": LABELLED_HEIGHT - 2,
    }


def hour_bar(n: int, hour: Any, names: list[str], tallest: int, labelled: bool) -> HourBar:
    counts = [(name, getattr(hour, name)) for name in names]
    parts, below = [], 0.0
    for name, count in counts:
        size = count * PLOT_HEIGHT / tallest
        parts.append(BarPart(name, f"{PLOT_HEIGHT - below - size:.2f}", f"{size:.2f}"))
        below += size
    when = timezone.localtime(hour.hour)
    title = f"{when:%H:00}: " + ", ".join(f"{count:,} {name}" for name, count in counts)
    return HourBar(n * HOUR_SLOT + 1, title, parts, f"{when:%H:00}" if labelled else "")


def labelled(n: int, count: int) -> bool:
    """Every sixth hour, but not so near the right edge that the label would be cut."""
    return n % LABEL_EVERY == 0 and count - n > 2


# --- The overview's figures ---------------------------------------------------------------


@register.filter
def figure(count: int, cap: int | None = None) -> str:
    """A count read at a glance, "12,345"; one that reached the cap it was counted up to
    reads "10,000+"."""
    if cap and count >= cap:
        return f"{cap:,}+"
    return f"{count:,}"


@register.filter
def span(value: timedelta | None) -> str:
    return admin_lists.span(value)
