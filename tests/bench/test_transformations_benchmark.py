"""The transformation benchmark runs and reports its measurement (the numbers are not tested),
and the end-to-end soak's transformation keeps every event."""

import pytest

from bench import fixtures, report
from bench import run as bench_run
from bench.payloads import sdk_event
from destinations.delivery.transforming import Transformed, destination_chains, run_chain
from ingest.sources import create_source


def test_the_benchmark_runs_the_chain_on_realistic_events_and_reports_a_rate_per_core():
    results = bench_run.transformations(0.05)
    assert results["transform_events_per_s_per_core"] > 0
    detail = results["transformations"]
    assert detail["events_per_second"] == results["transform_events_per_s_per_core"]
    assert 900 <= detail["event_bytes"] <= 1_300
    assert detail["events"] >= 100
    assert detail["dropped_pct"] == pytest.approx(10, abs=1)
    assert "transformEvent" in detail["code"]
    assert detail["target_per_second"] == 20_000


def test_the_report_shows_the_rate_against_issue_20s_target():
    results = {
        "transform_events_per_s_per_core": 25_000,
        "e2e_p95_s": 3.0,
        "e2e_transformation": "bench: rename coupon v1",
    }
    rows = [row for row in report.ROWS if row.key in results]
    lines = report.table(results, rows).splitlines()
    transform = next(line for line in lines if "transformation" in line)
    assert ">= 20,000 events/s" in transform
    assert transform.endswith("meets issue 20")
    assert next(line for line in lines if "p95" in line).endswith("BELOW")
    assert report.notes(results) == [
        "end to end: through the destination transformation 'bench: rename coupon v1', "
        "every event kept"
    ]


@pytest.mark.django_db
def test_the_soak_destination_runs_a_transformation_that_keeps_every_event():
    source = create_source("bench: end to end")[0]
    destination = fixtures.create_sink_destination("http://127.0.0.1:9", source)
    assert fixtures.attach_transformation(destination) == "bench: rename coupon v1"
    chain = destination_chains()[destination.pk]
    event = sdk_event() | {"messageId": "m-1"}
    transformed = run_chain(chain, Transformed.untouched(event), {})
    [form] = transformed.forms
    assert "coupon" not in form.payload["properties"]
    assert form.payload["properties"]["coupon_code"] == event["properties"]["coupon"]
