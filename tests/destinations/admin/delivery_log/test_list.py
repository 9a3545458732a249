"""The delivery log's list (docs/admin.md, "Delivery log"): badges, filters, exact search, pages
without a COUNT(*), and bounded queries on large tables."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations.models import Delivery
from destinations.services.replays import replay_deliveries
from tests.destinations.admin.log_scenario import (
    ATTEMPTS_URL,
    LOG_URL,
    billing,
    created_ago,
    detail_url,
    dispatch,
    ids,
    listed,
    page,
    route,
    section,
    settle,
)
from tests.destinations.delivery.sinks import always

pytestmark = pytest.mark.django_db

# Session, user, the filters' choices (destinations, mappings, error codes), the sources when
# searching, the page's rows, and on PostgreSQL the events partitions past retention (for the
# banner that says which of them live deliveries keep).
CHANGELIST_QUERIES = 8
# Session, user, the delivery with its event, mapping, destination and original, the attempts,
# the sampled attempt in full, the replays.
DETAIL_QUERIES = 6


# --- The list ---------------------------------------------------------------------------------


def test_the_log_lists_deliveries_newest_first_with_a_badge_for_each_status(
    admin_client, source, destination
):
    oldest, middle, newest = route(source, 3)
    created_ago(oldest, timedelta(minutes=3))
    created_ago(middle, timedelta(minutes=2))
    settle(oldest, "delivered")
    settle(middle, "failed")

    html = page(admin_client)

    assert listed(html) == [newest.pk, middle.pk, oldest.pk]
    assert '<span class="badge badge-delivered">Delivered</span>' in html
    assert '<span class="badge badge-failed">Failed</span>' in html
    assert '<span class="badge badge-pending">Pending</span>' in html


@pytest.mark.parametrize("status", ["pending", "in_flight", "retrying", "delivered", "failed"])
def test_the_status_filter_keeps_the_deliveries_in_that_status(
    admin_client, source, destination, status
):
    chosen, other = route(source, 2)
    settle(chosen, status)
    settle(other, "delivered" if status != "delivered" else "failed")

    html = page(admin_client, f"?status={status}")

    assert listed(html) == [chosen.pk]
    assert f'id="filter-status-{status}"' in html


def test_the_destination_filter_keeps_that_destination_and_narrows_the_mapping_filter(
    admin_client, source, destination, endpoint
):
    other = billing(source, endpoint.url, name="Other billing")
    route(source, 2)

    html = page(admin_client, f"?destination={other.pk}")

    assert set(listed(html)) == ids(Delivery.objects.filter(destination=other))
    assert len(listed(html)) == 2
    assert all(f'id="filter-mapping-{m.pk}"' in html for m in other.mappings.all())
    assert not any(f'id="filter-mapping-{m.pk}"' in html for m in destination.mappings.all())


def test_the_mapping_filter_keeps_that_mapping(admin_client, source, destination):
    route(source, 2)
    refunded = route(source, 1, start=2, event="Order Refunded")
    refunds = destination.mappings.get(name="Refunds")

    html = page(admin_client, f"?mapping={refunds.pk}")

    assert listed(html) == [d.pk for d in refunded if d.mapping_id == refunds.pk]
    assert len(listed(html)) == 1


def test_the_error_code_filter_keeps_that_code_and_lists_a_code_asked_for_by_the_url(
    admin_client, source, destination
):
    throttled, refused, delivered = route(source, 3)
    settle(throttled, "retrying", error_code="TOO_MANY_REQUESTS")
    settle(refused, "failed", error_code="VENDOR_SPECIFIC")
    settle(delivered, "delivered")

    known = page(admin_client, "?error_code=TOO_MANY_REQUESTS")
    from_url = page(admin_client, "?error_code=VENDOR_SPECIFIC")

    assert listed(known) == [throttled.pk]
    assert 'id="filter-error_code-ECONNREFUSED"' in known
    assert listed(from_url) == [refused.pk]
    assert 'id="filter-error_code-VENDOR_SPECIFIC"' in from_url


def test_the_replay_filter_tells_replays_from_originals(admin_client, source, destination):
    original, untouched = route(source, 2)
    settle(original, "delivered")
    replay_deliveries([original.pk])
    replay = Delivery.objects.get(replay=True)

    assert listed(page(admin_client, "?replay=yes")) == [replay.pk]
    assert set(listed(page(admin_client, "?replay=no"))) == {original.pk, untouched.pk}


@pytest.mark.parametrize(
    ("period", "kept"),
    [("1h", {"minutes"}), ("24h", {"minutes", "hours"}), ("7d", {"minutes", "hours", "days"})],
)
def test_the_created_filter_keeps_the_last_hour_day_or_week(
    admin_client, source, destination, period, kept
):
    ages = {
        "minutes": timedelta(minutes=30),
        "hours": timedelta(hours=5),
        "days": timedelta(days=3),
        "weeks": timedelta(days=10),
    }
    deliveries = dict(zip(ages, route(source, 4), strict=True))
    for name, age in ages.items():
        created_ago(deliveries[name], age)

    html = page(admin_client, f"?created={period}")

    assert set(listed(html)) == {deliveries[name].pk for name in kept}
    assert f'id="filter-created-{period}"' in html


def test_the_from_to_range_keeps_what_was_created_from_its_start_until_before_its_end(
    admin_client, source, destination
):
    before, start, inside, end = route(source, 4)
    base = timezone.now().replace(microsecond=0) - timedelta(days=1)
    for delivery, offset in ((before, -1), (start, 0), (inside, 30), (end, 60)):
        Delivery.objects.filter(pk=delivery.pk).update(created_at=base + timedelta(minutes=offset))
    end_at = base + timedelta(hours=1)
    bounds = f"?created_from={base:%Y-%m-%dT%H:%M:%S}&created_to={end_at:%Y-%m-%dT%H:%M:%S}"

    html = page(admin_client, f"{bounds}&status=pending")

    assert set(listed(html)) == {start.pk, inside.pk}
    # The range form carries the other filters along.
    assert '<input type="hidden" name="status" value="pending">' in section(
        html, "created-range-filter"
    )


def test_a_range_bound_that_does_not_parse_is_reported_and_not_applied(
    admin_client, source, destination
):
    deliveries = route(source, 2)

    html = page(admin_client, "?created_from=yesterday")

    assert set(listed(html)) == ids(deliveries)
    assert "Enter a valid date/time." in html


def test_searching_a_message_id_or_a_user_id_finds_exactly_its_deliveries(
    admin_client, source, destination
):
    route(source, 12)  # user-1 and msg-00001, but also user-10, user-11 and msg-00010, ...
    shopper = route(source, 3, start=12, userId="shopper-7")
    message_1 = Delivery.objects.filter(event__message_id="msg-00001")
    user_1 = Delivery.objects.filter(event__user_id="user-1")

    assert set(listed(page(admin_client, "?q=msg-00001"))) == ids(message_1)
    assert set(listed(page(admin_client, "?q=user-1"))) == ids(user_1)
    assert set(listed(page(admin_client, "?q=+shopper-7+"))) == ids(shopper)
    assert len(ids(message_1)) == len(ids(user_1)) == 1 and len(shopper) == 3
    assert listed(page(admin_client, "?q=msg-0000")) == []
    assert listed(page(admin_client, "?q=USER-1")) == []


def test_a_search_without_a_time_range_says_it_looked_through_the_retention(
    admin_client, source, destination, settings
):
    settings.EVENT_RETENTION_DAYS = 9
    route(source, 2)

    unbounded = page(admin_client, "?q=msg-00001")
    bounded = page(admin_client, "?q=msg-00001&created=24h")

    assert "Searched every event still kept: the last 9 days." in unbounded
    assert "Searched every event" not in bounded


def test_search_compares_the_indexed_columns_for_equality_and_never_scans_with_like(
    admin_client, source, destination
):
    route(source, 2)

    with CaptureQueriesContext(connection) as queries:
        page(admin_client, "?q=msg-00001")

    rows = next(q["sql"] for q in queries if 'FROM "destinations_delivery"' in q["sql"])
    assert '"ingest_event"."message_id" = ' in rows
    assert '"ingest_event"."user_id" = ' in rows
    assert "LIKE" not in rows.upper() and "UPPER(" not in rows.upper()


def test_pages_go_older_through_a_lookahead_row_without_a_total(
    admin_client, source, destination, monkeypatch
):
    monkeypatch.setattr(admin.site.get_model_admin(Delivery), "list_per_page", 2)
    newest_first = sorted(ids(route(source, 5)), reverse=True)

    first, second, last = (page(admin_client, f"?p={number}") for number in (1, 2, 3))

    assert [listed(first), listed(second), listed(last)] == [
        newest_first[:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert 'id="next-page" href="?p=2"' in first and 'id="previous-page"' not in first
    assert 'id="previous-page" href="?p=1"' in second and 'id="next-page" href="?p=3"' in second
    assert 'id="next-page"' not in last
    assert "5 deliveries" not in first


def test_a_page_past_the_last_row_is_empty_and_links_back_to_newer_rows(
    admin_client, source, destination
):
    route(source, 3)

    html = page(admin_client, "?p=4")

    assert listed(html) == []
    assert 'id="previous-page" href="?p=3"' in html
    assert admin_client.get(f"{LOG_URL}?p=0").status_code == 302


# --- Large tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 60])
def test_the_changelist_runs_the_same_few_queries_for_3_or_60_deliveries(
    admin_client, source, destination, django_assert_max_num_queries, count
):
    for delivery in route(source, count)[::2]:
        settle(delivery, "failed", error_code="TOO_MANY_REQUESTS")

    filtered = f"?status=failed&destination={destination.pk}&created=24h&replay=no"
    for query in ("", filtered, "?q=user-1"):
        with django_assert_max_num_queries(CHANGELIST_QUERIES):
            page(admin_client, query)


def test_no_page_of_the_log_counts_the_deliveries(admin_client, source, destination, monkeypatch):
    monkeypatch.setattr(admin.site.get_model_admin(Delivery), "list_per_page", 10)
    route(source, 30)
    queries = (
        "",
        "?p=2",
        "?_facets=1",
        "?all=",
        f"?status=pending&destination={destination.pk}&created=7d",
        "?q=msg-00003",
        "?replay=no&error_code=BAD_REQUEST",
    )

    with CaptureQueriesContext(connection) as captured:
        for query in queries:
            page(admin_client, query)
        page(admin_client, url=ATTEMPTS_URL)

    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert counts == []


@pytest.mark.parametrize(("failures", "replays"), [(0, 0), (7, 3)])
def test_the_detail_page_runs_the_same_few_queries_whatever_the_attempts_and_replays(
    admin_client, source, destination, endpoint, django_assert_max_num_queries, failures, replays
):
    (delivery,) = route(source, 1)
    endpoint.answer = always(503)
    for _ in range(failures):
        dispatch(delivery)
    endpoint.answer = always(200)
    dispatch(delivery)
    for _ in range(replays):
        replay_deliveries([delivery.pk])

    with django_assert_max_num_queries(DETAIL_QUERIES):
        html = page(admin_client, url=detail_url(delivery))

    assert section(html, "attempts").count('<tr id="attempt-') == failures + 1
