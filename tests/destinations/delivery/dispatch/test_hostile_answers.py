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
