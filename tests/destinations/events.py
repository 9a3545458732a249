"""Sample Segment events, as the Tracking API stores them."""

from typing import Any

CONTEXT = {
    "ip": "203.0.113.7",
    "library": {"name": "analytics-python", "version": "2.4.0"},
    "groupId": "acme-inc",
}


def track(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "API Call",
        "userId": f"user-{number}",
        "anonymousId": f"anon-{number}",
        "messageId": f"msg-{number:04d}",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "originalTimestamp": "2026-03-01T12:00:00.000Z",
        "receivedAt": "2026-03-01T12:00:00.250Z",
        "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        "context": CONTEXT,
        "integrations": {},
    } | overrides


def identify(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": f"user-{number}",
        "anonymousId": f"anon-{number}",
        "messageId": f"idf-{number:04d}",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "traits": {"email": "ada@example.com", "plan": "pro"},
        "context": CONTEXT,
    } | overrides


def page(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "name": "Pricing",
        "anonymousId": f"anon-{number}",
        "messageId": f"pg-{number:04d}",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "properties": {"path": "/pricing", "title": "Pricing"},
        "context": CONTEXT,
    } | overrides


def screen(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "screen",
        "name": "Home",
        "category": "App",
        "userId": f"user-{number}",
        "messageId": f"scr-{number:04d}",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "properties": {"orientation": "portrait"},
        "context": CONTEXT,
    } | overrides


def group(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "group",
        "groupId": "acme-inc",
        "userId": f"user-{number}",
        "messageId": f"grp-{number:04d}",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "traits": {"name": "Acme Inc", "seats": 12},
        "context": CONTEXT,
    } | overrides


def alias(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "alias",
        "previousId": f"anon-{number}",
        "userId": f"user-{number}",
        "messageId": f"als-{number:04d}",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "context": CONTEXT,
    } | overrides
