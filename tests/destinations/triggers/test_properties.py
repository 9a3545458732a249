"""Property tests of triggers: any text parses or fails cleanly, and well-formed triggers
mean what the specification says, checked against an independent reading."""

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from destinations import triggers
from destinations.triggers import TriggerSyntaxError

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

LANGUAGE_TOKENS = [
    "(",
    ")",
    ",",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "and",
    "or",
    "not",
    "true",
    "false",
    "null",
    "contains",
    "match",
    "type",
    "event",
    "properties.a",
    "traits.b[0]",
    "context.page.path",
    "properties.x\\ y",
    '"track"',
    '"a\\"b"',
    '"*x*"',
    "0",
    "-1.5e3",
    "12",
    '"',
    "\\",
    "[",
    "]",
    ".",
    "==",
    "&&",
    "'",
    "01",
    "1e",
    "-",
]


def tokens_to_text(tokens_and_spaces):
    return "".join(token + space for token, space in tokens_and_spaces)


LANGUAGE_SOUP = st.lists(
    st.tuples(st.sampled_from(LANGUAGE_TOKENS), st.sampled_from(["", " ", "\n"])), max_size=25
).map(tokens_to_text)


def parses_or_raises_a_syntax_error(text):
    try:
        trigger = triggers.parse(text)
    except TriggerSyntaxError as error:
        assert 0 <= error.offset <= len(text)
        assert str(error).endswith(f" at {error.offset}")
        return
    assert trigger.source == text
    assert trigger.matches({"type": "track", "properties": {"a": 1}}) in (True, False)


@PROPERTY_SETTINGS
@given(st.text())
def test_parsing_arbitrary_text_gives_a_trigger_or_a_syntax_error(text):
    parses_or_raises_a_syntax_error(text)


@PROPERTY_SETTINGS
@given(LANGUAGE_SOUP)
def test_parsing_the_languages_own_tokens_in_any_order_gives_a_trigger_or_a_syntax_error(text):
    parses_or_raises_a_syntax_error(text)


# Well-formed triggers, each paired with an independent reading of what it means.

MISSING = object()
FIELDS = {
    "type": ("type",),
    "properties.a": ("properties", "a"),
    "properties.b[1]": ("properties", "b", 1),
}
# Few, colliding values, so that strings, numbers and booleans meet often.
SCALAR_VALUES = [None, True, False, 0, 1, -1, 0.5, 2.0, "", "a", "1", "track", "tak", "trak", "ab*"]
SCALARS = st.sampled_from(SCALAR_VALUES)


def lookup(event, steps):
    value = event
    for step in steps:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(value, dict) and str(step) in value:
            value = value[str(step)]
        else:
            return MISSING
    return value


def strictly_equal(value, operand):
    if operand is None:
        return value is None or value is MISSING
    if isinstance(operand, bool) or isinstance(value, bool):
        return value is operand
    if isinstance(operand, str):
        return isinstance(value, str) and value == operand
    return isinstance(value, int | float) and value == operand


def reference_comparison(operator, operand, value):
    if operator == "=":
        return strictly_equal(value, operand)
    if operator == "!=":
        return not strictly_equal(value, operand)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return {
        "<": value < operand,
        "<=": value <= operand,
        ">": value > operand,
        ">=": value >= operand,
    }[operator]


def literal(operand):
    if operand is None or isinstance(operand, bool):
        return {None: "null", True: "true", False: "false"}[operand]
    if isinstance(operand, str):
        return '"' + operand.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(operand)


@st.composite
def comparisons(draw):
    field = draw(st.sampled_from(sorted(FIELDS)))
    operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    operand = draw(SCALARS) if operator in ("=", "!=") else draw(st.sampled_from([-1, 0, 1.5, 3]))
    text = f"{field} {operator} {literal(operand)}"
    return text, lambda event: reference_comparison(operator, operand, lookup(event, FIELDS[field]))


@st.composite
def function_calls(draw):
    field = draw(st.sampled_from(sorted(FIELDS)))
    name = draw(st.sampled_from(["contains", "match"]))
    negated = draw(st.booleans())
    argument = draw(st.sampled_from(["a", "", "tr*", "*k", "*", "t*a*k"]))

    def reference(event):
        value = lookup(event, FIELDS[field])
        if not isinstance(value, str):
            return False
        holds = argument in value if name == "contains" else wildcard(argument, value)
        return holds != negated

    return f'{"!" if negated else ""}{name}({field}, "{argument}")', reference


def wildcard(pattern, text):
    """A slow, obviously correct reading of `*` patterns (dynamic programming)."""
    reachable = {0}
    for char in pattern:
        if char == "*":
            reachable = set(range(min(reachable), len(text) + 1)) if reachable else set()
        else:
            reachable = {i + 1 for i in reachable if i < len(text) and text[i] == char}
    return len(text) in reachable


def combine(children):
    return st.one_of(
        st.tuples(children, children).map(
            lambda pair: (
                f"({pair[0][0]}) and ({pair[1][0]})",
                lambda e, a=pair[0][1], b=pair[1][1]: a(e) and b(e),
            )
        ),
        st.tuples(children, children).map(
            lambda pair: (
                f"{pair[0][0]} or {pair[1][0]}",
                lambda e, a=pair[0][1], b=pair[1][1]: a(e) or b(e),
            )
        ),
        children.map(lambda child: (f"not ({child[0]})", lambda e, a=child[1]: not a(e))),
    )


WELL_FORMED = st.recursive(comparisons() | function_calls(), combine, max_leaves=8)
EVENT_VALUES = st.just(MISSING) | SCALARS


@st.composite
def events(draw):
    event = {}
    for name, value in (
        ("type", draw(EVENT_VALUES)),
        ("properties", draw(st.just(None) | st.builds(dict))),
    ):
        if value is not MISSING:
            event[name] = value
    if isinstance(event.get("properties"), dict):
        for key in ("a", "b"):
            value = draw(EVENT_VALUES if key == "a" else st.lists(EVENT_VALUES, max_size=3))
            if isinstance(value, list):
                value = [None if item is MISSING else item for item in value]
            if value is not MISSING:
                event["properties"][key] = value
    return event


def with_field_values(event, type_value, a_value):
    """A copy of ``event`` with ``type`` and ``properties.a`` set (or removed for MISSING)."""
    varied = {key: value for key, value in event.items() if key != "type"}
    if type_value is not MISSING:
        varied["type"] = type_value
    properties = dict(varied.get("properties") or {})
    properties.pop("a", None)
    if a_value is not MISSING:
        properties["a"] = a_value
    varied["properties"] = properties
    return varied


FIELD_VALUES = [MISSING, *SCALAR_VALUES]


@settings(max_examples=200, deadline=None)
@given(WELL_FORMED, events())
def test_well_formed_triggers_mean_what_the_specification_says(trigger, event):
    text, reference = trigger
    assert triggers.matches(text, event) is reference(event)
    # Every pairing of values for two fields, so that every type meets every operand.
    for type_value in FIELD_VALUES:
        for a_value in FIELD_VALUES:
            varied = with_field_values(event, type_value, a_value)
            assert triggers.matches(text, varied) is reference(varied), varied


@PROPERTY_SETTINGS
@given(WELL_FORMED, events())
def test_explain_quotes_each_condition_exactly_and_agrees_with_matches(trigger, event):
    text, _ = trigger
    results = triggers.explain(text, event)
    for result in results:
        assert text[result.start : result.start + len(result.source)] == result.source
        assert isinstance(result.held, bool)
        orjson.dumps(result.to_dict())
    if " or " not in text and "not (" not in text:
        assert triggers.matches(text, event) is all(result.held for result in results)
