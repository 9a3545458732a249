"""Parsing triggers: what the language accepts, and the errors for what it does not."""

import pytest

from destinations import triggers
from destinations.triggers import TriggerSyntaxError
from destinations.triggers.parser import MAX_NESTING


@pytest.mark.parametrize(
    "text",
    [
        'type = "track"',
        'type="track"',
        'type="track"and event="A"',
        '(type="track")or(type="page")',
        'event != "Page Viewed"',
        "properties.price >= 10",
        "properties.price<10",
        "properties.price <= -1.5e3",
        "properties.items[0].price > 0",
        "properties.items.0.price > 0",
        "properties.matrix[1][2] = 3",
        "properties.order-id = 5",
        "properties.$set != null",
        "properties._private = true",
        "traits.vip = false",
        "context.page.path = null",
        'contains(event, "Nike")',
        '!contains(properties.name, "Nike")',
        '! contains(properties.name, "Nike")',
        'match(event, "Product*")',
        '!match(event, "*Viewed")',
        'not (type = "track")',
        'not(type = "track" or type = "page")',
        'not (not (type = "track"))',
        '((((type = "track"))))',
        'type = "track" and (event = "A" or (event = "B" and properties.x > 1))',
        'messageId = "m-1"',
        'integrations.Librato.source = "web"',
        '\ttype\n=\n"track"\r\n',
        'properties.product\\ name = "shoe"',
        'properties.caf\u00e9 = "au lait"',
        "not = 5",
        'contains = "x"',
        'match = "x"',
    ],
)
def test_well_formed_triggers_parse(text):
    assert triggers.parse(text).source == text


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ("event = Purchase", "expected a quoted string after '='", 8),
        ('type = "track" and event = Order', "expected a quoted string after '='", 27),
        ("userId != anonymous", "expected a quoted string after '!='", 10),
        (
            "event =",
            "expected a value (a quoted string, a number, true, false or null) after '='",
            7,
        ),
        (
            "event = (",
            "expected a value (a quoted string, a number, true, false or null) after '='",
            8,
        ),
        ('properties.price > "3"', "expected a number after '>'", 19),
        ("properties.price < true", "expected a number after '<'", 19),
        ("properties.price <= null", "expected a number after '<='", 20),
        (
            'properties.price "3"',
            "expected an operator (=, !=, <, <=, >, >=) after 'properties.price'",
            17,
        ),
        ("type", "expected an operator (=, !=, <, <=, >, >=) after 'type'", 4),
        ('type = "track" and', "expected a condition", 18),
        ('type = "track" or or type = "page"', "expected a condition", 18),
        ('and type = "track"', "expected a condition", 0),
        ("()", "expected a condition", 1),
        (')type = "a"', "expected a condition", 0),
        ('(type = "track"', "expected 'and', 'or' or ')'", 15),
        ('(type = "track" event = "x")', "expected 'and', 'or' or ')'", 16),
        ('type = "track")', "unmatched ')'", 14),
        ('type = "track" event = "x"', "expected 'and', 'or' or the end of the trigger", 15),
        ('not type = "track"', "expected '(' after 'not'", 4),
        ("not", "expected '(' after 'not'", 3),
        ('!type = "track"', "expected 'contains' or 'match' after '!'", 1),
        ('!(type = "track")', "expected 'contains' or 'match' after '!'", 1),
        ('contains(event "x")', "expected ',' after 'event'", 15),
        ('contains("x", event)', "expected a field name as the first argument of contains()", 9),
        ("contains(event, 5)", "expected a quoted string as the second argument of contains()", 16),
        ('match(event, "x"', "expected ')' to close match(", 16),
        ('!contains event, "x")', "expected '(' after 'contains'", 10),
        ('type == "track"', "use '=' instead of '=='", 5),
        ('type = "a" && event = "b"', "use 'and' instead of '&&'", 11),
        ('type = "a" || event = "b"', "use 'or' instead of '||'", 11),
        ("type = 'track'", "strings are written in double quotes", 7),
        ('type = "track', "unterminated string", 7),
        ('type = "tr\\ack"', 'only \\" and \\\\ may follow a backslash in a string', 10),
        ('type = "track\\', 'only \\" and \\\\ may follow a backslash in a string', 13),
        ("properties.x = 01", "invalid number", 15),
        ("properties.x = 1.", "invalid number", 15),
        ("properties.x = .5", "unexpected character '.'", 15),
        ("properties.x = 1e", "invalid number", 15),
        ("properties.x = -", "invalid number", 15),
        ("properties.x = 12abc", "invalid number", 15),
        ("properties.x = 1e999", "number is too large", 15),
        ("properties.x = " + "9" * 4001, "number has too many digits", 15),
        ("properties..x = 1", "expected a field name", 11),
        ("properties. = 1", "expected a field name", 11),
        ("properties.x[a] = 1", "expected an array index such as [0]", 12),
        ("properties.x[1 = 1", "expected an array index such as [0]", 12),
        ("properties\\", "expected a character after '\\'", 10),
        ("type # 1", "unexpected character '#'", 5),
        ('type = "a" and @x = 1', "unexpected character '@'", 15),
    ],
)
def test_malformed_triggers_raise_a_syntax_error_with_message_and_offset(text, message, offset):
    with pytest.raises(TriggerSyntaxError) as caught:
        triggers.parse(text)
    assert (caught.value.message, caught.value.offset) == (message, offset)
    assert str(caught.value) == f"{message} at {offset}"


def test_the_error_message_reads_like_the_specification_example():
    with pytest.raises(TriggerSyntaxError, match=r"^expected a quoted string after '=' at 14$"):
        triggers.parse("anonymousId = abc")


def test_a_syntax_error_is_a_value_error():
    assert issubclass(TriggerSyntaxError, ValueError)


def test_parentheses_nest_up_to_the_documented_limit():
    nested = "(" * MAX_NESTING + 'type = "track"' + ")" * MAX_NESTING
    assert triggers.matches(nested, {"type": "track"})


def test_parentheses_nested_beyond_the_limit_are_a_syntax_error():
    too_deep = "(" * (MAX_NESTING + 1) + 'type = "track"' + ")" * (MAX_NESTING + 1)
    with pytest.raises(TriggerSyntaxError) as caught:
        triggers.parse(too_deep)
    assert caught.value.offset == MAX_NESTING
    assert caught.value.message == f"parentheses nest deeper than {MAX_NESTING} levels"


def test_negations_count_towards_the_nesting_limit():
    too_deep = "not (" * (MAX_NESTING + 1) + 'type = "x"' + ")" * (MAX_NESTING + 1)
    with pytest.raises(TriggerSyntaxError, match="nest deeper"):
        triggers.parse(too_deep)


def test_a_long_flat_chain_of_conditions_is_not_limited():
    chain = " or ".join(f"properties.n = {number}" for number in range(5_000))
    assert triggers.matches(chain, {"properties": {"n": 4_999}})


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_a_blank_trigger_parses_into_a_trigger_that_matches_nothing(text):
    trigger = triggers.parse(text)
    assert trigger.source == text
    assert not trigger.matches({"type": "track"})
    assert trigger.explain({"type": "track"}) == []


def test_parsed_triggers_are_cached_by_text():
    assert triggers.parse('type = "cached"') is triggers.parse('type = "cached"')


def test_a_trigger_repr_shows_its_source():
    assert repr(triggers.parse('type = "track"')) == "Trigger('type = \"track\"')"
