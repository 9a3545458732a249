"""Deliveries and attempts for the delivery log's tests: events ingested and routed in the
test's process, sent by the dispatcher to a local sink, or put where a dispatcher would leave
them."""

import re
from datetime import timedelta

from django.utils import timezone

from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery, Destination, Mapping
from destinations.services.destinations import create_destination
from ingest.models import Source
from tests.destinations.delivery.scenario import TRACK_TRIGGER, ingest_and_route, track

# Looks like a real token so that a leak would be found by a plain substring search.
SECRET_TOKEN = "mtr_live_9f2c41d7e8a0b3c6"
LOG_URL = "/admin/destinations/delivery/"
ATTEMPTS_URL = "/admin/destinations/deliveryattempt/"


def billing(source: Source, sink_url: str, name: str = "Billing") -> Destination:
    """Metronome on the sink, with a second mapping so that mappings can be told apart."""
    destination = create_destination(
        "metronome", name, {"base_url": sink_url}, {"api_token": SECRET_TOKEN}, [source]
    )
    first = destination.mappings.get()
    first.flush_interval = 0
    first.save()
    Mapping.objects.create(
        destination=destination,
        name="Refunds",
        action=first.action,
        trigger=f'{TRACK_TRIGGER} and event = "Order Refunded"',
        fields=first.fields,
        flush_interval=0,
    )
    return destination


def route(source: Source, count: int, start: int = 0, **overrides) -> list[Delivery]:
    """Ingest and route `count` track events; returns their new deliveries, oldest first."""
    ingest_and_route(source, *[track(i, **overrides) for i in range(start, start + count)])
    return list(Delivery.objects.filter(event__message_id__in=message_ids(count, start)))


def message_ids(count: int, start: int = 0) -> list[str]:
    return [track(i)["messageId"] for i in range(start, start + count)]


def dispatch(delivery: Delivery) -> Delivery:
    """Send what is due for the delivery's mapping now; returns the delivery as it ends up."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    dispatch_mapping(delivery.mapping_id)
    return Delivery.objects.get(pk=delivery.pk)


def settle(delivery: Delivery, status: str, **values) -> Delivery:
    """Put a delivery where a dispatcher would have left it, without sending it."""
    now = timezone.now()
    if status != "pending":
        values = {"attempts": 1, "first_attempt_at": now, "last_attempt_at": now} | values
    if status == "delivered":
        values = {"delivered_at": now, "last_status_code": 200} | values
    if status == "failed":
        values = {"error_code": "BAD_REQUEST", "error_message": "HTTP 400", **values}
    Delivery.objects.filter(pk=delivery.pk).update(status=status, **values)
    return Delivery.objects.get(pk=delivery.pk)


def created_ago(delivery: Delivery, age: timedelta) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - age)


def detail_url(delivery: Delivery) -> str:
    return f"{LOG_URL}{delivery.pk}/change/"


def listed(page: str) -> list[int]:
    """The ids of the rows a changelist page shows, top to bottom (from each row's link)."""
    return [
        int(pk) for pk in re.findall(r'<th class="field-[^"]*"><a href="[^"]*/(\d+)/change/', page)
    ]


def section(page: str, element_id: str) -> str:
    """The HTML of a detail page's section, up to the next one."""
    start = page.index(f'id="{element_id}"')
    end = page.find('<div class="module"', start)
    return page[start : end if end != -1 else len(page)]


def page(client, query: str = "", url: str = LOG_URL) -> str:
    response = client.get(f"{url}{query}")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def ids(deliveries) -> set[int]:
    return {delivery.pk for delivery in deliveries}
