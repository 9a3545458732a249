"""The sandbox checked from outside the script (destinations/sandbox/script.py): what the
runner uses cannot be redefined by the author, Python checks every answer, a clock outside
QuickJS counts the time spent in built-ins, and what one event becomes has a size."""

import pytest

from destinations.sandbox import Limits, Script, TransformFailed

EVENT = {"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "m-1"}


def run(code: str, **limits):
    return Script(code, Limits(**limits)).transform(EVENT, {})


def failure(code: str, **limits) -> TransformFailed:
    with pytest.raises(TransformFailed) as caught:
        run(code, **limits)
    return caught.value


@pytest.mark.parametrize(
    "sabotage",
    [
        "JSON.stringify = () => 42;",
        'JSON.stringify = () => "not json";',
        "JSON.parse = () => ({});",
        "Array.isArray = () => true;",
        "globalThis.JSON = {parse: () => null, stringify: () => null};",
    ],
)
def test_redefining_what_the_runner_uses_changes_nothing(sabotage):
    code = sabotage + "\nexport function transformEvent(event) { event.kept = true; return event; }"

    assert run(code).events == [EVENT | {"kept": True}]


def test_an_answer_that_is_not_events_fails_the_event_and_is_checked_in_python():
    code = """Object.prototype.toJSON = function () { return 42; };
export function transformEvent(event) { return event; }"""

    failed = failure(code)

    assert failed.kind == "result"
    assert "not events" in failed.message


def test_time_spent_inside_a_built_in_past_the_budget_is_an_overrun():
    code = """const big = [];
for (let i = 0; i < 150000; i++) big.push({a: i, b: "xxxxxxxxxxxxxxxxxxxx", c: [1, 2, 3]});
export function transformEvent(event) {
  JSON.stringify(big); JSON.stringify(big); JSON.stringify(big);
  return event;
}"""

    failed = failure(code, cpu_ms=50, load_ms=5000)

    assert failed.kind == "timeout"


def test_an_event_heavier_than_a_tracking_api_message_fails():
    code = """export function transformEvent(event) {
  event.properties = {blob: "x".repeat(40 * 1024)};
  return event;
}"""

    failed = failure(code, max_event_bytes=32 * 1024)

    assert failed.kind == "result"
    assert "at most 32,768" in failed.message


def test_parts_that_weigh_more_together_than_the_budget_fail_the_event():
    code = """export function transformEvent(event) {
  const parts = [];
  for (let i = 0; i < 25; i++) parts.push({...event, properties: {blob: "x".repeat(30000)}});
  return parts;
}"""

    failed = failure(code, max_event_bytes=32 * 1024, max_output_bytes=500 * 1024)

    assert failed.kind == "result"
    assert "at most 512,000" in failed.message


def test_parts_within_both_budgets_are_kept():
    code = """export function transformEvent(event) {
  return [1, 2, 3].map((n) => ({...event, properties: {n, blob: "x".repeat(20000)}}));
}"""

    output = run(code, max_event_bytes=32 * 1024, max_output_bytes=500 * 1024)

    assert [event["properties"]["n"] for event in output.events] == [1, 2, 3]
