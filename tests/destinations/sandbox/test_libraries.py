"""RudderStack's transformation libraries in the sandbox: `import { f } from "libraryName"`
(docs/transformations/libraries), every import form a library's exports allow, and errors
that name the library and its own line."""

import pytest

from destinations.sandbox import Script, ScriptError, TransformFailed

PII_TOOLS = """export function maskEmail(email) {
  const [user, domain] = email.split("@");
  return user[0] + "***@" + domain;
}
const SALT = 7;
export const scramble = (text) => text.length + SALT;
function internal() { return "kept" }
export { internal as visible };
export default function explode(reason) {
  throw new Error("exploded: " + reason);
}
"""
LIBRARIES = {"piiTools": PII_TOOLS}


def run(code: str, event: dict | None = None, libraries=LIBRARIES):
    return Script(code, libraries=libraries).transform(event or {"properties": {}}, {})


def test_named_imports_bring_a_librarys_exports():
    code = """import { maskEmail, scramble as count } from "piiTools";
export function transformEvent(event) {
  event.properties.email = maskEmail(event.properties.email);
  event.properties.n = count("abc");
  return event;
}"""

    (event,) = run(code, {"properties": {"email": "ada@example.com"}}).events

    assert event["properties"] == {"email": "a***@example.com", "n": 10}


def test_a_namespace_import_an_export_list_and_a_default_export():
    code = """import * as pii from 'piiTools';
import explode from 'piiTools';
export function transformEvent(event) {
  event.visible = pii.visible();
  event.same = explode === pii.default;
  return event;
}"""

    (event,) = run(code).events

    assert (event["visible"], event["same"]) == ("kept", True)


def test_what_a_library_keeps_to_itself_stays_out_of_reach():
    code = """import { maskEmail } from "piiTools";
function transformEvent(event) { event.salt = typeof SALT; return event }"""

    assert run(code).events[0]["salt"] == "undefined"


def test_an_error_thrown_in_a_library_names_the_library_and_its_line():
    code = """import explode from "piiTools";
function transformEvent(event) { explode("no"); return event }"""

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert str(failed.value) == "Error: exploded: no (line 10 of library piiTools)"


def test_a_multi_line_import_keeps_the_authors_line_numbers():
    code = """import {
  maskEmail,
  scramble,
} from "piiTools";
function transformEvent(event) {
  return event.missing.deep;
}"""

    with pytest.raises(TransformFailed) as failed:
        run(code)

    assert (failed.value.line, failed.value.library) == (6, None)


def test_an_unknown_library_is_refused_with_the_line_of_its_import():
    with pytest.raises(ScriptError) as refused:
        Script('\nimport { f } from "geoTools";\nfunction transformEvent(e) { return e }')

    assert str(refused.value) == 'no library is imported as "geoTools" (line 2)'


def test_a_library_that_does_not_parse_names_itself():
    broken = {"piiTools": "export function maskEmail(email {\n  return email;\n}"}

    with pytest.raises(ScriptError) as refused:
        Script(
            'import * as p from "piiTools";\nfunction transformEvent(e) { return e }',
            libraries=broken,
        )

    assert refused.value.library == "piiTools"


def test_a_library_cannot_import_another():
    libraries = {"a": 'import { f } from "b";\nexport const g = 1;', "b": "export const f = 1;"}

    with pytest.raises(ScriptError) as refused:
        Script(
            'import { g } from "a";\nfunction transformEvent(e) { return e }', libraries=libraries
        )

    assert str(refused.value) == 'library "a" imports another: libraries cannot'


def test_libraries_that_are_not_imported_are_not_loaded():
    libraries = LIBRARIES | {"broken": "this is not javascript"}

    assert run("function transformEvent(e) { return e }", libraries=libraries).events == [
        {"properties": {}}
    ]


def test_imports_may_share_a_line():
    code = """import { maskEmail } from "piiTools"; import * as other from "other";
function transformEvent(event) { event.x = other.x + maskEmail("ab@c"); return event }"""

    (event,) = run(code, libraries=LIBRARIES | {"other": "export const x = 1;"}).events

    assert event["x"] == "1a***@c"
