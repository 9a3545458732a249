"""A run that fails says why on the run, and loses nothing: the next run sends what is due."""

import psycopg
import pytest

from tables import sync
from tables.models import TableSource
from tests.servers import free_port
from tests.tables.test_sync import ROWS, events_of, run_once


@pytest.mark.django_db
def test_a_bad_query_fails_the_run_and_the_fixed_query_then_sends_every_row(
    warehouse, table_source
):
    warehouse.scores(ROWS)
    table = table_source(table="", query="SELECT nope FROM customer_scores")

    failed = run_once(table)

    assert (failed.status, failed.error_kind) == ("failed", "query")
    assert 'column "nope" does not exist' in failed.error
    assert events_of(table) == []
    TableSource.objects.filter(pk=table.pk).update(query="SELECT * FROM customer_scores")
    table.refresh_from_db()
    assert run_once(table).events == 5


@pytest.mark.django_db
def test_an_unreachable_database_fails_the_run_and_a_later_run_sends_every_row(
    warehouse, table_source
):
    warehouse.scores(ROWS)
    table = table_source(url=f"postgresql://postgres@127.0.0.1:{free_port()}/warehouse")

    failed = run_once(table)

    assert (failed.status, failed.error_kind) == ("failed", "unreachable")
    assert "Connection refused" in failed.error
    table.set_connection_url(warehouse.url)
    table.save()
    assert run_once(table).events == 5


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://reader:s3cret-pw%zz@127.0.0.1/warehouse",  # libpq quotes the bad escape
        "postgresql://reader:s3cret-pw@[::1]x/warehouse",  # and this URL whole
    ],
)
@pytest.mark.django_db
def test_a_run_failing_on_a_malformed_url_records_why_without_the_password(table_source, url):
    failed = run_once(table_source(url=url))

    assert (failed.status, failed.error_kind) == ("failed", "unreachable")
    assert failed.error and "s3cret-pw" not in failed.error and url not in failed.error


@pytest.mark.parametrize(
    "query",
    [
        "WITH gone AS (DELETE FROM customer_scores RETURNING *) SELECT * FROM gone",
        "DELETE FROM customer_scores RETURNING *",
        "SELECT * FROM customer_scores; DELETE FROM customer_scores",
        "UPDATE customer_scores SET segment = 'x' RETURNING *",
    ],
)
@pytest.mark.django_db
def test_a_query_that_writes_fails_and_writes_nothing(warehouse, table_source, query):
    warehouse.scores(ROWS)
    table = table_source(table="", query=query)

    failed = run_once(table)

    assert failed.status == "failed"
    assert failed.error_kind in ("read_only", "query")
    with psycopg.connect(warehouse.url) as connection:
        rows = connection.execute("SELECT count(*), min(segment) FROM customer_scores").fetchone()
    assert rows == (5, "high")


@pytest.mark.django_db
def test_a_query_slower_than_its_timeout_is_cancelled(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source(
        table="",
        query="SELECT *, pg_sleep(1) AS pause FROM customer_scores",
        timeout_seconds=1,
    )

    failed = run_once(table)

    assert (failed.status, failed.error_kind) == ("failed", "timeout")
    assert "statement timeout" in failed.error


@pytest.mark.django_db
def test_a_column_the_result_lacks_fails_the_run_naming_the_columns_it_has(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source(key_columns="id")

    failed = run_once(table)

    assert (failed.status, failed.error_kind) == ("failed", "columns")
    assert failed.error == (
        "the result has no column 'id'; it has customer_id, email, churn_score, segment, scored_at"
    )


@pytest.mark.django_db
def test_the_database_going_away_mid_run_keeps_the_chunks_done_and_finds_no_deletion(
    warehouse, table_source, settings, monkeypatch
):
    """Rows not read are not deleted rows: the deletions wait for a run that read them all."""
    settings.TABLE_SOURCE_CHUNK_ROWS = 2
    warehouse.scores(ROWS[:2])
    table = table_source(emit_deleted=True)
    run_once(table)
    warehouse.scores(ROWS[2:])
    apply_chunk = sync.apply_chunk

    def apply_then_lose_the_database(*args) -> None:
        apply_chunk(*args)
        warehouse.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'switchyard-table-source'"
        )

    monkeypatch.setattr(sync, "apply_chunk", apply_then_lose_the_database)
    failed = run_once(table)
    monkeypatch.undo()

    assert (failed.status, failed.error_kind) == ("failed", "unreachable")
    assert (failed.rows_read, failed.deleted) == (2, 0)
    finished = run_once(table)
    assert (finished.status, finished.deleted) == ("succeeded", 0)
    ids = [event["messageId"] for event in events_of(table)]
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.parametrize("disabled", ["table source", "source"])
@pytest.mark.django_db
def test_a_run_of_a_disabled_table_source_or_source_fails_and_sends_nothing(
    warehouse, table_source, disabled
):
    warehouse.scores(ROWS)
    table = table_source()
    target = table if disabled == "table source" else table.source
    type(target).objects.filter(pk=target.pk).update(enabled=False)
    table.refresh_from_db()

    failed = run_once(table)

    assert (failed.status, failed.error_kind, failed.rows_read) == ("failed", "disabled", 0)
    assert "is disabled" in failed.error
    assert events_of(table) == []
