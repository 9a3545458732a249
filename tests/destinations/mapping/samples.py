"""A sample event, and a helper rendering one field, shared by the mapping tests."""

from destinations.mapping import render

ABSENT = "<absent>"

EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "anonymousId": "a-1",
    "messageId": "m-1",
    "timestamp": "2024-05-01T12:00:00.000Z",
    "properties": {
        "revenue": 25.0,
        "value": 0,
        "count": 3,
        "ratio": 0.5,
        "big": 1e21,
        "tiny": 1e-7,
        "currency": "EUR",
        "coupon": None,
        "empty": "",
        "flag": False,
        "ok": True,
        "name": "Running Shoe",
        "html": "<b>&</b>",
        "which": "$.properties.name",
        "products": [
            {"product_id": "p1", "price": 10.0, "tags": ["a"]},
            {"product_id": "p2", "price": 15, "extra": None},
        ],
        "scores": [1, 2],
        "address": {"city": "Paris", "zip": None, "geo": {"lat": 48.8, "lon": None}},
        "json": '{"a": [1, 2.5], "b": null}',
        "bad_json": "{oops",
    },
    "traits": {"email": "  Jane@Example.COM ", "first_name": "Jane"},
    "context": {"page": {"path": "/checkout"}, "groupId": "g-1"},
    "integrations": {"Actions Amplitude": {"session_id": 42}},
}


def mapped(mapping, event=EVENT):
    """Render ``mapping`` as the value of one field; ABSENT when the field is removed."""
    return render({"out": mapping}, event).get("out", ABSENT)
