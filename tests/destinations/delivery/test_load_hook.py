"""Action.load: a kind that does its own I/O (a warehouse) is sent, judged and logged like
any HTTP request, through the same send_batch."""

from datetime import UTC, datetime

from destinations.delivery.exchanges import attempt_record
from destinations.delivery.transport import send_batch
from destinations.integrations.base import Action, Config, ItemResult, Loaded, Outcome

STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = Config({}, {"password": "s3cret-pass"}, "")


def action(load) -> Action:
    return Action("load", "Load", (), build=lambda config, payloads: [], load=load)


def two_loads(config, payloads) -> list[Loaded]:
    ok, bad = ItemResult(Outcome.DELIVERED), ItemResult(Outcome.FAILED, "NO_MESSAGE_ID", "no id")
    return [
        Loaded(
            "COPY",
            "postgresql://loader@db/x",
            "tracks: 2 rows",
            (0, 2),
            (ok, bad),
            STARTED,
            7,
            answer="app.tracks: 1 rows",
        ),
        Loaded("COPY", "postgresql://loader@db/x", "pages: 1 rows", (1,), (ok,), STARTED, 3),
    ]


def test_each_load_becomes_a_sent_request_with_its_items_results():
    sent = send_batch(action(two_loads), CONFIG, [{}, {}, {}])

    assert [item.request.items for item in sent] == [(0, 2), (1,)]
    assert [r.outcome for r in sent[0].results] == [Outcome.DELIVERED, Outcome.FAILED]
    assert sent[0].exchange.status is None
    assert sent[0].exchange.duration_ms == 7


def test_a_load_is_logged_with_its_method_url_summary_and_answer():
    [first, _] = send_batch(action(two_loads), CONFIG, [{}, {}, {}])

    record = attempt_record(first, CONFIG.secret_values)

    assert record["request_method"] == "COPY"
    assert record["request_url"] == "postgresql://loader@db/x"
    assert record["request_body"] == "tracks: 2 rows"
    assert record["response_body"] == "app.tracks: 1 rows"
    assert record["outcome"] == "mixed"
    assert record["started_at"] == STARTED


def test_a_loader_that_raises_retries_every_item_and_its_message_hides_the_secrets():
    def broken(config, payloads):
        raise RuntimeError("could not log in with s3cret-pass")

    [sent] = send_batch(action(broken), CONFIG, [{}, {}])

    assert sent.request.items == (0, 1)
    assert {r.outcome for r in sent.results} == {Outcome.RETRY}
    assert "s3cret-pass" not in sent.results[0].message
    assert "RuntimeError" in sent.results[0].message


def test_a_load_error_is_redacted_in_each_items_result():
    def refused(config, payloads):
        result = ItemResult(Outcome.RETRY, "ECONNREFUSED", "password s3cret-pass refused")
        return [Loaded("COPY", "u", "", (0,), (result,), STARTED, 1, error_code="ECONNREFUSED")]

    [sent] = send_batch(action(refused), CONFIG, [{}])

    assert sent.results[0].message == "password •••• refused"
