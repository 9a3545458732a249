"""Replays from the delivery log (docs/delivery.md, "Replay"; docs/admin.md, "Delivery log"): retry
selected deliveries, replay a time range of a destination or re-route a source's, and who may."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from destinations.models import Delivery, Destination
from ingest.models import Event
from tests.destinations.admin.log_scenario import (
    LOG_URL,
    billing,
    created_ago,
    detail_url,
    listed,
    route,
    settle,
)
from tests.destinations.clock import receive_at
from tests.destinations.delivery import scenario

pytestmark = pytest.mark.django_db

REPLAY_URL = f"{LOG_URL}replay/"
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def destination(source) -> Destination:
    return billing(source, NOWHERE)


@pytest.fixture
def viewer(client, django_user_model):
    """A staff member who may read the delivery log, and nothing more."""
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename="view_delivery"))
    client.force_login(user)
    return client


def retry(client, deliveries: list[Delivery], query: str = ""):
    data = {"action": "retry_selected", "_selected_action": [d.pk for d in deliveries], "index": 0}
    return client.post(f"{LOG_URL}{query}", data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def replays_of(deliveries: list[Delivery]) -> set[int]:
    originals = [d.pk for d in deliveries]
    return set(
        Delivery.objects.filter(replay=True, replay_of__in=originals).values_list(
            "replay_of", flat=True
        )
    )


def form_time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


# --- Retry selected ---------------------------------------------------------------------------


def test_retry_selected_queues_replays_of_the_delivered_and_failed_and_skips_the_unfinished(
    admin_client, source, destination
):
    delivered, failed, pending, retrying, in_flight = route(source, 5)
    settle(delivered, "delivered")
    settle(failed, "failed")
    settle(retrying, "retrying")
    settle(in_flight, "in_flight")

    response = retry(admin_client, [delivered, failed, pending, retrying, in_flight])

    assert messages_of(response) == [
        "Queued 2 replays; skipped 3 deliveries still pending, retrying or in flight "
        "(only delivered and failed deliveries are sent again)."
    ]
    assert replays_of([delivered, failed, pending, retrying, in_flight]) == {
        delivered.pk,
        failed.pk,
    }
    replays = Delivery.objects.filter(replay=True)
    assert {(r.status, r.event_id) for r in replays} == {
        ("pending", delivered.event_id),
        ("pending", failed.event_id),
    }


def test_retrying_only_unfinished_deliveries_queues_nothing_and_says_so(
    admin_client, source, destination
):
    pending, in_flight = route(source, 2)
    settle(in_flight, "in_flight")

    response = retry(admin_client, [pending, in_flight])

    assert messages_of(response) == [
        "Queued 0 replays; skipped 2 deliveries still pending, retrying or in flight "
        "(only delivered and failed deliveries are sent again)."
    ]
    assert not Delivery.objects.filter(replay=True).exists()


def test_the_retry_button_of_a_delivery_page_lists_its_replay_beside_the_original(
    admin_client, source, destination
):
    (failed,) = route(source, 1)
    settle(failed, "failed")
    page = admin_client.get(detail_url(failed)).content.decode()
    assert 'id="retry-delivery"' in page

    response = retry(admin_client, [failed], query="?q=msg-00000")

    replay = Delivery.objects.get(replay=True)
    assert messages_of(response) == ["Queued 1 replay."]
    assert listed(response.content.decode()) == [replay.pk, failed.pk]


def test_a_delivery_still_pending_has_no_retry_button(admin_client, source, destination):
    (pending,) = route(source, 1)

    assert 'id="retry-delivery"' not in admin_client.get(detail_url(pending)).content.decode()


def test_a_replay_links_to_its_original_and_the_original_to_its_replays(
    admin_client, source, destination
):
    (original,) = route(source, 1)
    settle(original, "failed")
    retry(admin_client, [original])
    replay = Delivery.objects.get(replay=True)

    original_page = admin_client.get(detail_url(original)).content.decode()
    replay_page = admin_client.get(detail_url(replay)).content.decode()

    assert f'href="{detail_url(replay)}"' in original_page
    assert f'href="{detail_url(original)}"' in replay_page
    assert 'id="replay-of"' in replay_page


# --- Replay a time range ----------------------------------------------------------------------


def test_replaying_a_destination_time_range_queues_its_finished_deliveries_created_in_it(
    admin_client, source, destination
):
    too_old, delivered, failed, pending, recent = route(source, 5)
    for delivery, hours in ((too_old, 30), (delivered, 20), (failed, 10), (pending, 10)):
        created_ago(delivery, timedelta(hours=hours))
    settle(too_old, "delivered")
    settle(delivered, "delivered")
    settle(failed, "failed")
    settle(recent, "delivered")
    now = timezone.now()
    form = {
        "destination": destination.pk,
        "source": "",
        "start": form_time(now - timedelta(hours=24)),
        "end": form_time(now - timedelta(hours=1)),
    }

    response = admin_client.post(REPLAY_URL, form, follow=True)

    assert replays_of([too_old, delivered, failed, pending, recent]) == {delivered.pk, failed.pk}
    assert response.redirect_chain[-1][0] == f"{LOG_URL}?destination={destination.pk}&replay=yes"
    (message,) = messages_of(response)
    assert message.startswith("Replayed the deliveries to Billing created between ")
    assert message.endswith(": 2 deliveries queued.")
    assert len(listed(response.content.decode())) == 2


def test_rerouting_a_source_time_range_routes_its_events_through_the_destination_again(
    admin_client, source, destination
):
    route(source, 3)
    other = billing(source, NOWHERE, name="New warehouse")
    now = timezone.now()
    receive_at(Event.objects.filter(message_id="msg-00000"), now - timedelta(days=2))
    form = {
        "destination": other.pk,
        "source": source.pk,
        "start": form_time(now - timedelta(days=1)),
        "end": form_time(now + timedelta(minutes=5)),
    }

    response = admin_client.post(REPLAY_URL, form, follow=True)

    rerouted = Delivery.objects.filter(destination=other)
    assert sorted(d.event.message_id for d in rerouted) == ["msg-00001", "msg-00002"]
    assert all(d.replay and d.replay_of_id is None for d in rerouted)
    (message,) = messages_of(response)
    assert message.startswith("Re-routed the events Test app received between ")
    assert message.endswith("to New warehouse: 2 deliveries queued.")


def test_the_range_form_refuses_a_range_that_ends_before_it_starts(
    admin_client, source, destination
):
    (delivered,) = route(source, 1)
    settle(delivered, "delivered")
    now = timezone.now()
    form = {"destination": destination.pk, "start": form_time(now), "end": form_time(now)}

    response = admin_client.post(REPLAY_URL, form)

    assert response.status_code == 200
    assert "“From” must come before “To”." in response.content.decode()
    assert not Delivery.objects.filter(replay=True).exists()


def test_the_range_link_of_a_filtered_log_fills_the_form_in_with_its_filters(
    admin_client, destination
):
    filters = (
        f"destination={destination.pk}&created_from=2025-03-01T10:00&created_to=2025-03-02T10:00"
    )
    log = admin_client.get(f"{LOG_URL}?{filters}").content.decode()
    prefill = "start=2025-03-01T10%3A00&amp;end=2025-03-02T10%3A00"
    link = f"{REPLAY_URL}?destination={destination.pk}&amp;{prefill}"
    assert f'id="replay-range-link" href="{link}"' in log

    form = admin_client.get(link.replace("&amp;", "&")).content.decode()

    assert f'<option value="{destination.pk}" selected>Billing</option>' in form
    assert 'value="2025-03-01T10:00"' in form and 'value="2025-03-02T10:00"' in form


# --- Who may ----------------------------------------------------------------------------------


def test_a_viewer_reads_the_log_but_can_neither_retry_nor_replay_a_range(
    viewer, source, destination
):
    (delivered,) = route(source, 1)
    settle(delivered, "delivered")

    log = viewer.get(LOG_URL).content.decode()
    detail = viewer.get(detail_url(delivered)).content.decode()
    retried = retry(viewer, [delivered])

    assert listed(log) == [delivered.pk]
    assert "retry_selected" not in log and 'id="replay-range-link"' not in log
    assert 'id="retry-delivery"' not in detail and 'id="you-sent"' in detail
    assert viewer.get(REPLAY_URL).status_code == 403
    assert viewer.post(REPLAY_URL, {"destination": destination.pk}).status_code == 403
    assert retried.status_code == 200
    assert not Delivery.objects.filter(replay=True).exists()
