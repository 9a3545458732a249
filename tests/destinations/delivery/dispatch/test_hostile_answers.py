"""What a destination answers can fail its own items, and nothing else: an answer the attempt
log could not store would leave the batch in flight, to be sent again at each lapsed lease."""

from destinations.models import Delivery, DeliveryAttempt
from tests.destinations.delivery.dispatch.helpers import dispatch_once, pending


def test_an_answer_with_nul_bytes_is_recorded_and_fails_only_its_batch(
    source, sink, billing, mapping
):
    sink.answer = lambda request: (400, {}, b"bad\x00request\x00")
    pending(source, 2)

    dispatch_once(mapping)

    assert {d.status for d in Delivery.objects.all()} == {"failed"}
    bodies = set(DeliveryAttempt.objects.values_list("response_body", flat=True))
    assert bodies == {"bad\ufffdrequest\ufffd"}


def test_a_cookie_one_answer_sets_is_never_sent_back(source, sink, billing, mapping):
    """One client serves every destination: a cookie kept would go to any on that host."""
    sink.answer = lambda request: (200, {"Set-Cookie": "session=stolen; Path=/"}, b"{}")
    pending(source, 1)
    dispatch_once(mapping)
    pending(source, 1, start=1)

    dispatch_once(mapping)

    assert [r.headers.get("Cookie") for r in sink.received] == [None, None]


def test_a_destination_without_its_required_secret_sends_nothing_and_says_which(
    source, sink, billing, mapping
):
    """A save that moves the host clears the secrets (docs/destinations.md, "Secrets stay
    with their host"); until one is typed again the items wait, saying what is missing."""
    billing.set_secrets({})
    billing.save()
    pending(source, 2)

    dispatch_once(mapping)

    assert sink.received == []
    rows = Delivery.objects.all()
    assert {(d.status, d.error_code) for d in rows} == {("retrying", "SECRET_MISSING")}
    assert "API token" in rows[0].error_message
