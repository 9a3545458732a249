"""Per-user order in the admin (docs/delivery.md, "Per-user order"): a held delivery says what
it waits on, health and the overview count the users held, /metrics the held deliveries, and a
destination added from the catalog keeps order as its kind does."""

import importlib
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.core import Metric

from destinations.delivery.gauges import queue_gauges
from destinations.integrations import REGISTRY
from destinations.models import Delivery, Destination
from destinations.selectors.health import destination_health
from tests.destinations.admin.factories import store_deliveries
from tests.destinations.delivery import scenario

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def held(billing: Destination) -> list[Delivery]:
    """Two users held at Billing: ann behind a retry with two deliveries, bob with one."""
    billing.keep_order = True
    billing.save()
    mapping = billing.mappings.get()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    [blocker] = store_deliveries(mapping, "retrying", 1, created_at=an_hour_ago)
    waiting = store_deliveries(mapping, "held", 2, created_at=an_hour_ago + timedelta(minutes=1))
    waiting += store_deliveries(mapping, "held", 1)
    for delivery, lane in zip([blocker, *waiting], [1, 1, 1, 2], strict=True):
        delivery.lane, delivery.position = lane, delivery.event_id
        delivery.waits_on = blocker.pk if delivery is not blocker else None
        delivery.save()
    return waiting


def test_the_log_says_what_a_held_delivery_waits_for_with_a_link(admin_client, held):
    blocker_page = reverse("admin:destinations_delivery_change", args=[held[0].waits_on])

    listing = admin_client.get(reverse("admin:destinations_delivery_changelist")).content.decode()
    page = admin_client.get(
        reverse("admin:destinations_delivery_change", args=[held[0].pk])
    ).content.decode()

    assert (
        f'<a class="waits-on" href="{blocker_page}">waiting for {held[0].waits_on}</a>' in listing
    )
    assert 'id="delivery-waits-on"' in page and f'href="{blocker_page}"' in page


def test_health_and_the_overview_count_the_users_held_and_the_oldest_hold(
    admin_client, billing, held
):
    holds = destination_health(billing).holds

    health = admin_client.get(
        reverse("admin:destinations_destination_change", args=[billing.pk])
    ).content.decode()
    overview = admin_client.get(reverse("admin:index")).content.decode()

    assert holds.users == 2
    assert holds.oldest == min(delivery.created_at for delivery in held)
    assert 'id="health-held"><strong><a' in health and ">2</a></strong>" in health
    assert f'href="/admin/destinations/delivery/?destination={billing.pk}&amp;status=held"' in (
        overview
    )


def test_a_destination_without_holds_shows_none(admin_client, billing):
    assert destination_health(billing).holds is None
    page = admin_client.get(reverse("admin:destinations_destination_change", args=[billing.pk]))
    assert 'id="health-held"' not in page.content.decode()


def test_metrics_count_the_held_deliveries_per_destination(billing, held):
    [waiting] = [metric for metric in queue_gauges() if metric.name.endswith("waiting")]
    assert sample(waiting, destination="Billing", status="held") == 3
    assert sample(waiting, destination="Billing", status="retrying") == 1


def sample(metric: Metric, **labels: str) -> float:
    [value] = [s.value for s in metric.samples if s.labels == labels]
    return value


@pytest.mark.parametrize(("kind", "checked"), [("mixpanel", True), ("webhook", False)])
def test_a_destination_added_from_the_catalog_keeps_order_as_its_kind_does(
    admin_client, kind, checked
):
    page = admin_client.get(reverse("admin:destinations_destination_add") + f"?kind={kind}")
    [field] = re.findall(r'<input[^>]*name="keep_order"[^>]*>', page.content.decode())
    assert (" checked" in field) is checked


def test_the_migration_turned_order_on_for_the_kinds_that_keep_it():
    migration = importlib.import_module("destinations.migrations.0012_per_user_order")
    ordered = sorted(key for key, kind in REGISTRY.items() if kind.orders_per_user)
    assert ordered == migration.ORDERED_KINDS
