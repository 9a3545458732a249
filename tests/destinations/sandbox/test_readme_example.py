"""The example of docs/transformations.md ("The contract"), a RudderStack-style transformation,
runs unchanged."""

import re
from pathlib import Path

from destinations.sandbox import Script

PAGE = Path(__file__).resolve().parents[3] / "docs" / "transformations.md"


def readme_example() -> str:
    section = PAGE.read_text().split("## The contract", 1)[1]
    return re.search(r"```javascript\n(.*?)```", section, re.DOTALL).group(1)


def order(**overrides) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m-1",
        "properties": {"total": 30, "email": "ada@example.com"},
        "context": {"traits": {"email": "ada@example.com", "name": "Ada"}, "userAgent": "Firefox"},
    } | overrides


def test_the_readme_example_redacts_fans_out_drops_bots_and_logs():
    script = Script(readme_example())

    first, revenue = script.transform(order(), {"destinationId": "4"}).events
    assert first["properties"] == {"total": 30, "email": "[redacted]"}
    assert first["context"]["traits"] == {"name": "Ada"}
    assert (revenue["event"], revenue["messageId"]) == ("Revenue", "m-1-revenue")
    assert script.logs() == ["redacted for 4"]

    bot = order(context={"userAgent": "Googlebot/2.1"})
    assert script.transform(bot, {}).events == []
    assert len(script.transform(order(event="Viewed"), {}).events) == 1
