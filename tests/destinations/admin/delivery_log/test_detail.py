"""One delivery in the log (docs/admin.md, "Delivery log"; docs/security.md, "Redaction"): the three
samples, every attempt, no secret on any page, and nothing to add, change or delete by hand."""

import pytest
from django.utils import timezone

from destinations.models import Delivery, DeliveryAttempt
from tests.destinations.admin.log_scenario import (
    ATTEMPTS_URL,
    LOG_URL,
    SECRET_TOKEN,
    detail_url,
    dispatch,
    listed,
    page,
    route,
    section,
)
from tests.destinations.delivery.sinks import always

pytestmark = pytest.mark.django_db


# --- One delivery -----------------------------------------------------------------------------


def test_the_detail_page_shows_what_was_sent_the_request_the_response_and_every_attempt(
    admin_client, source, destination, endpoint
):
    (delivery,) = route(source, 1, properties={"total": 4242})
    endpoint.answer = always(503)
    dispatch(delivery)
    endpoint.answer = lambda request: (200, {"X-Request-Id": "req-77"}, b'{"accepted": 1}')
    delivery = dispatch(delivery)
    attempts = list(DeliveryAttempt.objects.filter(deliveries=delivery).order_by("-pk"))

    html = page(admin_client, url=detail_url(delivery))

    you_sent = section(html, "you-sent")
    assert "&quot;messageId&quot;: &quot;msg-00000&quot;" in you_sent
    assert "&quot;total&quot;: 4242" in you_sent
    request = section(html, "request-sample")
    assert f"POST {endpoint.url}/v1/ingest" in request
    assert "Bearer ••••" in request
    assert "&quot;transaction_id&quot;: &quot;msg-00000&quot;" in request
    response = section(html, "response-sample")
    assert "HTTP 200" in response and "req-77" in response
    assert "&quot;accepted&quot;: 1" in response
    rows = section(html, "attempts")
    assert [f'id="attempt-{a.pk}"' in rows for a in attempts] == [True, True]
    assert "HTTP 503" in rows and "HTTP 200" in rows
    assert f'href="{ATTEMPTS_URL}{attempts[0].pk}/change/"' in rows
    timeline = section(html, "timeline")
    assert timezone.localtime(delivery.delivered_at).strftime("%Y-%m-%d %H:%M:%S") in timeline


def test_a_failed_delivery_shows_the_destination_answer_and_its_error(
    admin_client, source, destination, endpoint
):
    (delivery,) = route(source, 1)
    endpoint.answer = lambda request: (400, {}, b'{"message": "unknown customer acme"}')
    delivery = dispatch(delivery)

    html = page(admin_client, url=detail_url(delivery))

    assert delivery.status == "failed"
    assert "HTTP 400" in section(html, "response-sample")
    assert "unknown customer acme" in section(html, "response-sample")
    assert "BAD_REQUEST" in section(html, "delivery-summary")


def test_a_delivery_not_sent_yet_shows_its_event_and_mapped_item_and_says_so(
    admin_client, source, destination
):
    (delivery,) = route(source, 1)

    html = page(admin_client, url=detail_url(delivery))

    assert "&quot;messageId&quot;: &quot;msg-00000&quot;" in section(html, "you-sent")
    request = section(html, "request-sample")
    assert "Not sent yet." in request and "&quot;transaction_id&quot;" in request
    assert "No answer yet." in section(html, "response-sample")
    assert "No attempt yet." in section(html, "attempts")
    assert "Next attempt" in section(html, "timeline")


def test_the_attempt_page_shows_its_request_its_response_and_the_deliveries_it_carried(
    admin_client, source, destination
):
    deliveries = route(source, 3)
    dispatch(deliveries[0])
    attempt = DeliveryAttempt.objects.get()

    html = page(admin_client, url=f"{ATTEMPTS_URL}{attempt.pk}/change/")

    assert "Bearer ••••" in section(html, "request-sample")
    assert "HTTP 200" in section(html, "response-sample")
    carried = section(html, "carried")
    assert all(f'href="{detail_url(d)}"' in carried for d in deliveries)
    assert listed(page(admin_client, url=ATTEMPTS_URL)) == [attempt.pk]


def test_an_unknown_delivery_sends_back_to_the_admin_home_with_a_message(admin_client):
    response = admin_client.get(f"{LOG_URL}999999/change/", follow=True)

    assert response.redirect_chain[-1][0] == "/admin/"
    assert "Perhaps it was deleted?" in response.content.decode()


# --- Secrets and read-only --------------------------------------------------------------------


def test_no_page_of_the_log_shows_a_destination_secret(admin_client, source, destination, endpoint):
    # A destination that echoes the token back, in its body and in a header.
    endpoint.answer = lambda request: (
        401,
        {"WWW-Authenticate": f"Bearer {SECRET_TOKEN}"},
        f'{{"error": "token {SECRET_TOKEN} is revoked"}}'.encode(),
    )
    deliveries = route(source, 2)
    dispatch(deliveries[0])
    attempt = DeliveryAttempt.objects.get()
    # A row written before redaction existed still shows no credential header.
    carried_twice = DeliveryAttempt.objects.create(
        **{
            f.name: getattr(attempt, f.name)
            for f in attempt._meta.concrete_fields
            if not f.primary_key
        }
        | {"request_headers": {"Authorization": f"Bearer {SECRET_TOKEN}"}}
    )
    carried_twice.deliveries.set(
        [deliveries[1]], through_defaults={"started_at": carried_twice.started_at}
    )

    pages = [
        page(admin_client),
        page(admin_client, url=detail_url(deliveries[0])),
        page(admin_client, url=detail_url(deliveries[1])),
        page(admin_client, url=ATTEMPTS_URL),
        page(admin_client, url=f"{ATTEMPTS_URL}{attempt.pk}/change/"),
        page(admin_client, url=f"{ATTEMPTS_URL}{carried_twice.pk}/change/"),
    ]

    assert all(SECRET_TOKEN not in html for html in pages)
    assert "Bearer ••••" in section(pages[2], "request-sample")


@pytest.mark.parametrize("url", [LOG_URL, ATTEMPTS_URL])
def test_the_log_cannot_be_added_to_changed_or_deleted_by_hand(
    admin_client, source, destination, url
):
    (delivery,) = route(source, 1)
    dispatch(delivery)
    pk = delivery.pk if url == LOG_URL else DeliveryAttempt.objects.get().pk

    html = page(admin_client, url=url)

    assert admin_client.get(f"{url}add/").status_code == 403
    assert admin_client.post(f"{url}add/", {}).status_code == 403
    assert admin_client.post(f"{url}{pk}/change/", {"status": "failed"}).status_code == 403
    assert admin_client.get(f"{url}{pk}/delete/").status_code == 403
    assert admin_client.post(f"{url}{pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in html and f'href="{url}add/"' not in html
    assert Delivery.objects.get(pk=delivery.pk).status == "delivered"
