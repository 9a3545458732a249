"""The sandbox on its own: RudderStack's transformEvent contract and the limits around it.

The transformations are written as RudderStack documents them (docs/transformations/usage,
runtime-functions: `export function transformEvent(event, metadata)`, `metadata(event)`,
`log()`); the return rules (null drops, an array fans out, anything else that is not an
object is an error) are those of rudder-transformer's user transformation handler."""

import time

import pytest

from destinations.sandbox import Limits, Script, ScriptError, TransformFailed

EVENT = {
    "type": "track",
    "event": "Signed Up",
    "userId": "u-1",
    "messageId": "m-1",
    "properties": {"email": "Ada@Example.com", "plan": "pro", "phone": "+44 20 7946 0958"},
    "context": {"traits": {"email": "Ada@Example.com", "name": "Ada"}, "ip": "203.0.113.9"},
}

REDACT_PII = """
const PII = ["email", "phone"];

export function transformEvent(event, metadata) {
  for (const key of PII) {
    if (event.properties && key in event.properties) event.properties[key] = "[redacted]";
  }
  if (event.context) {
    delete event.context.ip;
    if (event.context.traits) delete event.context.traits.email;
  }
  return event;
}
"""


def run(code: str, event: dict = EVENT, metadata: dict | None = None, **limits):
    return Script(code, Limits(**limits)).transform(event, metadata or {})


def test_a_pii_redaction_transformation_runs_unchanged():
    output = run(REDACT_PII)

    (event,) = output.events
    assert event["properties"] == {"email": "[redacted]", "plan": "pro", "phone": "[redacted]"}
    assert event["context"] == {"traits": {"name": "Ada"}}
    assert event["userId"] == "u-1"


def test_an_array_fans_one_event_out_into_several():
    code = """export function transformEvent(event) {
      return [event, {...event, event: event.event + " (copy)", messageId: event.messageId + "-2"}];
    }"""

    events = run(code).events

    assert [e["event"] for e in events] == ["Signed Up", "Signed Up (copy)"]
    assert events[1]["messageId"] == "m-1-2"


@pytest.mark.parametrize("returned", ["null", "undefined", ""])
def test_null_or_nothing_drops_the_event(returned):
    code = f"""export function transformEvent(event) {{
      if (event.event === "Signed Up") return {returned};
      return event;
    }}"""

    assert run(code).events == []


def test_a_thrown_error_fails_with_the_javascript_message_and_line():
    code = """export function transformEvent(event, metadata) {
  const plan = event.properties.plan;
  if (plan === "pro") {
    throw new Error("pro plans are not for this destination");
  }
  return event;
}"""

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert failed.value.kind == "error"
    assert failed.value.message == "Error: pro plans are not for this destination"
    assert failed.value.line == 4
    assert str(failed.value) == "Error: pro plans are not for this destination (line 4)"


def test_a_type_error_names_the_authors_line_not_the_runners():
    code = "function transformEvent(event) {\n\n  return event.properties.missing.deep;\n}"

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert failed.value.message == "TypeError: cannot read property 'deep' of undefined"
    assert failed.value.line == 3


def test_a_plain_function_without_export_is_accepted():
    assert run("function transformEvent(event) { event.plain = true; return event }").events[0][
        "plain"
    ]


def test_metadata_is_a_function_of_the_event_as_in_rudderstack():
    code = """export function transformEvent(event, metadata) {
      const meta = metadata(event);
      event.properties.from = [meta.sourceId, meta.destinationId, meta.messageId].join("/");
      return event;
    }"""

    output = run(code, metadata={"sourceId": "7", "destinationId": "9"})

    assert output.events[0]["properties"]["from"] == "7/9/m-1"


def test_console_log_and_rudderstacks_log_are_captured():
    code = """export function transformEvent(event) {
      console.log("plan", event.properties.plan, {n: 1});
      log("second line");
      return event;
    }"""

    script = Script(code)
    output = script.transform(EVENT, {})

    assert script.logs() == ['plan pro {"n":1}', "second line"]
    assert output.elapsed_ms > 0


def test_each_event_starts_with_an_empty_console():
    script = Script("function transformEvent(e) { console.log(e.event); return e }")

    script.transform(EVENT, {})
    script.transform(EVENT | {"event": "Two"}, {})

    assert script.logs() == ["Two"]


def test_an_endless_loop_is_stopped_by_the_time_limit():
    script = Script("function transformEvent(e) { while (true) {} }", Limits(cpu_ms=50))
    started = time.monotonic()

    with pytest.raises(TransformFailed) as failed:
        script.transform(EVENT, {})

    assert failed.value.kind == "timeout"
    assert "time limit (50 ms of CPU per event)" in failed.value.message
    assert time.monotonic() - started < 2


def test_the_time_limit_cannot_be_caught_by_the_script():
    code = "function transformEvent(e) { for (;;) { try { while (true) {} } catch (x) {} } }"

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert failed.value.kind == "timeout"


def test_a_one_gigabyte_array_is_stopped_by_the_memory_limit():
    code = "function transformEvent(e) { const big = new Array(2 ** 27).fill(0); return e }"

    with pytest.raises(TransformFailed) as failed:
        run(code, memory_mb=64)

    assert failed.value.kind == "memory"
    assert "memory limit (64 MB)" in failed.value.message


def test_a_one_gigabyte_buffer_is_refused_by_the_memory_limit():
    code = "function transformEvent(e) { e.size = new Uint8Array(2 ** 30).length; return e }"

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert failed.value.kind == "memory"


def test_a_script_keeps_working_after_a_timeout_or_running_out_of_memory():
    code = """let calls = 0;
    function transformEvent(e) {
      calls += 1;
      if (e.event === "spin") while (true) {}
      if (e.event === "hog") { const all = []; for (;;) all.push(new Array(100000).fill(calls)); }
      e.calls = calls;
      return e;
    }"""
    script = Script(code)

    for bad in ("spin", "hog"):
        with pytest.raises(TransformFailed):
            script.transform(EVENT | {"event": bad}, {})
        # Loaded afresh: its globals start again, as a new isolate's would.
        assert script.transform(EVENT, {}).events[0]["calls"] == 1


@pytest.mark.parametrize(
    "expression, missing",
    [
        ("require('fs')", "require"),
        ("fetch('http://127.0.0.1/')", "fetch"),
        ("process.env", "process"),
        ("setTimeout(() => 1, 0)", "setTimeout"),
        ("XMLHttpRequest", "XMLHttpRequest"),
    ],
)
def test_the_host_is_out_of_reach(expression, missing):
    code = f"function transformEvent(e) {{ e.got = {expression}; return e }}"

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert failed.value.message == f"ReferenceError: {missing} is not defined"


def test_globals_beyond_the_language_are_gone():
    code = """function transformEvent(e) {
      e.present = ["queueMicrotask", "performance", "SharedArrayBuffer", "Atomics", "WeakRef"]
        .filter((name) => typeof globalThis[name] !== "undefined");
      return e;
    }"""

    assert run(code).events[0]["present"] == []


@pytest.mark.parametrize(
    "returned, problem",
    [
        ("5", "the value transformEvent returned is not an object"),
        ("[e, 'x']", "an item of the array transformEvent returned is not an object"),
        ("[e, [e]]", "an item of the array transformEvent returned is not an object"),
        ("{n: 1n}", "the event transformEvent returned is not JSON"),
    ],
)
def test_a_return_value_that_is_not_an_event_fails_the_event(returned, problem):
    with pytest.raises(TransformFailed) as failed:
        run(f"function transformEvent(e) {{ return {returned} }}")

    assert failed.value.kind == "result"
    assert failed.value.message.startswith(problem)


def test_async_transformations_are_refused_as_there_is_nothing_to_await():
    with pytest.raises(TransformFailed) as failed:
        run("export async function transformEvent(e) { return e }")

    assert "Promise" in failed.value.message


def test_too_many_events_from_one_fail_it():
    code = "function transformEvent(e) { return Array.from({length: 11}, () => e) }"

    with pytest.raises(TransformFailed) as failed:
        run(code, max_events=10)

    assert failed.value.message == "transformEvent returned 11 events; at most 10"


@pytest.mark.parametrize(
    "code, message, line",
    [
        (
            "function transformEvent(e) {\n  return e +;\n}",
            "SyntaxError: unexpected token in expression: ';'",
            2,
        ),
        (
            "export function transformBatch(events, metadata) { return events }",
            "transformBatch is not available: write transformEvent(event, metadata)",
            None,
        ),
        (
            "const transform = (e) => e;",
            "the code defines no function transformEvent(event, metadata)",
            None,
        ),
        (
            "import { x } from 'lib';\nfunction transformEvent(e) { return e }",
            'no library is imported as "lib"',
            1,
        ),
        (
            "while (true) {}\nfunction transformEvent(e) { return e }",
            "InternalError: interrupted",
            1,
        ),
    ],
)
def test_code_that_cannot_load_is_a_script_error_with_its_line(code, message, line):
    with pytest.raises(ScriptError) as refused:
        Script(code, Limits(load_ms=100))

    assert (refused.value.message, refused.value.line) == (message, line)


def test_an_arrow_function_or_a_default_export_is_a_transformation_too():
    for code in (
        "export const transformEvent = (event) => ({...event, arrow: true});",
        "export default function transformEvent(event) { event.arrow = true; return event }",
    ):
        assert run(code).events[0]["arrow"] is True


def test_globals_live_on_between_events_as_in_a_reused_isolate():
    script = Script("let seen = 0; function transformEvent(e) { e.seen = ++seen; return e }")

    assert [script.transform(EVENT, {}).events[0]["seen"] for _ in range(3)] == [1, 2, 3]


def test_the_logs_written_before_an_error_are_kept():
    script = Script("function transformEvent(e) { console.log('about to fail'); throw 1 }")

    with pytest.raises(TransformFailed):
        script.transform(EVENT, {})

    assert script.logs() == ["about to fail"]
