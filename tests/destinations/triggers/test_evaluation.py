"""Evaluating triggers: strict typed comparisons, functions and combinators."""

import pytest

from destinations import triggers

MISSING = object()


def event_with(value):
    """A track event whose properties.v is ``value`` (absent for MISSING)."""
    properties = {} if value is MISSING else {"v": value}
    return {"type": "track", "event": "Order Completed", "properties": properties}


COMPARISONS = [
    # Strings are strict: only the very string matches.
    ('properties.v = "100"', "100", True),
    ('properties.v = "100"', 100, False),
    ('properties.v = "100"', 100.0, False),
    ('properties.v = "true"', True, False),
    ('properties.v = ""', "", True),
    ('properties.v = "x"', MISSING, False),
    ('properties.v = "x"', None, False),
    ('properties.v = "x"', ["x"], False),
    ('properties.v = "x"', {"x": "x"}, False),
    ('properties.v = "Caf\u00e9"', "Caf\u00e9", True),
    ('properties.v = "say \\"hi\\""', 'say "hi"', True),
    ('properties.v = "back\\\\slash"', "back\\slash", True),
    # != is the negation of =: true when missing, null or of another type.
    ('properties.v != "x"', "x", False),
    ('properties.v != "x"', "y", True),
    ('properties.v != "x"', MISSING, True),
    ('properties.v != "x"', None, True),
    ('properties.v != "100"', 100, True),
    # Numbers: equal by value, never to strings, and booleans are not numbers.
    ("properties.v = 100", 100, True),
    ("properties.v = 100", 100.0, True),
    ("properties.v = 1e2", 100, True),
    ("properties.v = 100", "100", False),
    ("properties.v = 1", True, False),
    ("properties.v = 0", False, False),
    ("properties.v = 0", None, False),
    ("properties.v = 0", MISSING, False),
    ("properties.v = -2.5", -2.5, True),
    ("properties.v = 0.1", 0.1, True),
    ("properties.v != 100", 100, False),
    ("properties.v != 100", 101, True),
    ("properties.v != 100", "100", True),
    ("properties.v != 1", True, True),
    ("properties.v != 5", MISSING, True),
    # Ordering: numbers only; strings never match, even numeric ones.
    ("properties.v > 10", 11, True),
    ("properties.v > 10", 10, False),
    ("properties.v > 10", 10.5, True),
    ("properties.v > 10", "11", False),
    ("properties.v > 0", True, False),
    ("properties.v > -1", MISSING, False),
    ("properties.v > -1", None, False),
    ("properties.v >= 10", 10, True),
    ("properties.v >= 10", 9.99, False),
    ("properties.v < 10", 9, True),
    ("properties.v < 10", 10, False),
    ("properties.v < 10", "9", False),
    ("properties.v < 1", False, False),
    ("properties.v <= 10", 10, True),
    ("properties.v <= 10", 10.01, False),
    ("properties.v <= -1e-3", -0.001, True),
    ("properties.v < 0", [], False),
    # Booleans.
    ("properties.v = true", True, True),
    ("properties.v = true", 1, False),
    ("properties.v = true", "true", False),
    ("properties.v = true", MISSING, False),
    ("properties.v = false", False, True),
    ("properties.v = false", 0, False),
    ("properties.v = false", None, False),
    ("properties.v = false", MISSING, False),
    ("properties.v != true", True, False),
    ("properties.v != true", False, True),
    ("properties.v != true", MISSING, True),
    ("properties.v != false", False, False),
    ("properties.v != false", "false", True),
    # null: "= null" is missing or null; "!= null" exists and is not null.
    ("properties.v = null", MISSING, True),
    ("properties.v = null", None, True),
    ("properties.v = null", 0, False),
    ("properties.v = null", "", False),
    ("properties.v = null", False, False),
    ("properties.v != null", MISSING, False),
    ("properties.v != null", None, False),
    ("properties.v != null", 0, True),
    ("properties.v != null", "", True),
    ("properties.v != null", {}, True),
]


@pytest.mark.parametrize(("text", "value", "expected"), COMPARISONS)
def test_comparisons_are_strict_about_types(text, value, expected):
    assert triggers.matches(text, event_with(value)) is expected


FUNCTIONS = [
    ('contains(properties.v, "ike")', "Nike Air", True),
    ('contains(properties.v, "ike")', "Adidas", False),
    ('contains(properties.v, "")', "", True),
    ('contains(properties.v, "1")', 100, False),
    ('contains(properties.v, "x")', ["x"], False),
    ('contains(properties.v, "x")', MISSING, False),
    ('contains(properties.v, "X")', "x", False),
    # !contains is "a string that does not contain": false for missing and non-strings.
    ('!contains(properties.v, "ike")', "Adidas", True),
    ('!contains(properties.v, "ike")', "Nike", False),
    ('!contains(properties.v, "ike")', MISSING, False),
    ('!contains(properties.v, "ike")', None, False),
    ('!contains(properties.v, "1")', 5, False),
    # match anchors at both ends; * is any run of characters, anywhere.
    ('match(properties.v, "Product*")', "Product Added", True),
    ('match(properties.v, "Product*")', "Added Product", False),
    ('match(properties.v, "*Added")', "Product Added", True),
    ('match(properties.v, "*Added")', "Added Product", False),
    ('match(properties.v, "*duct*")', "Product Added", True),
    ('match(properties.v, "*duct*")', "Order", False),
    ('match(properties.v, "P*d")', "Product Added", True),
    ('match(properties.v, "P*d")', "Pd", True),
    ('match(properties.v, "P*d")', "P", False),
    ('match(properties.v, "ab*ba")', "aba", False),
    ('match(properties.v, "ab*ba")', "abba", True),
    ('match(properties.v, "a*b*c")', "a_c_b_c", True),
    ('match(properties.v, "a*b*c")', "a_c_c", False),
    ('match(properties.v, "*a*a*a*b")', "a" * 5_000, False),
    ('match(properties.v, "*a*a*a*b")', "a" * 5_000 + "b", True),
    ('match(properties.v, "exact")', "exact", True),
    ('match(properties.v, "exact")', "exactly", False),
    ('match(properties.v, "*")', "", True),
    ('match(properties.v, "**")', "anything", True),
    ('match(properties.v, "")', "", True),
    ('match(properties.v, "")', "x", False),
    ('match(properties.v, "x*")', MISSING, False),
    ('match(properties.v, "1*")', 123, False),
    ('!match(properties.v, "Product*")', "Order Completed", True),
    ('!match(properties.v, "Product*")', "Product Added", False),
    ('!match(properties.v, "*Added")', "Added!", True),
    ('!match(properties.v, "x*")', MISSING, False),
    ('!match(properties.v, "x*")', 7, False),
]


@pytest.mark.parametrize(("text", "value", "expected"), FUNCTIONS)
def test_contains_and_match_only_hold_for_strings(text, value, expected):
    assert triggers.matches(text, event_with(value)) is expected


ORDER = {
    "type": "track",
    "event": "Order Completed",
    "name": None,
    "userId": "u-1",
    "messageId": "m-1",
    "properties": {
        "items": [{"sku": "A-1", "price": 10}, {"sku": "B-2", "price": 0}],
        "matrix": [[1, 2], [3, 4]],
        "product name": "Shoe",
        "0": "zero",
    },
    "traits": {"plan": "pro"},
    "context": {"page": {"path": "/checkout/pay"}, "traits": {"email": "a@b.c"}},
    "integrations": {"Librato": {"source": "web"}},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('properties.items[0].sku = "A-1"', True),
        ('properties.items.1.sku = "B-2"', True),
        ("properties.items[1].price = 0", True),
        ("properties.items[2].price = null", True),
        ("properties.items[2].price != null", False),
        ("properties.matrix[1][0] = 3", True),
        ("properties.matrix[5][0] = null", True),
        ('properties.items.sku = "A-1"', False),
        ('properties.product\\ name = "Shoe"', True),
        ('properties.0 = "zero"', True),
        ('properties.items[0].sku.deeper = "x"', False),
        ('traits.plan = "pro"', True),
        ('context.traits.email = "a@b.c"', True),
        ('match(context.page.path, "/checkout*")', True),
        ("name = null", True),
        ("name != null", False),
        ('userId = "u-1"', True),
        ("anonymousId = null", True),
        ('messageId = "m-1"', True),
        ('integrations.Librato.source = "web"', True),
        ("properties != null", True),
        ("nothing.at.all = null", True),
    ],
)
def test_paths_reach_into_objects_and_arrays(text, expected):
    assert triggers.matches(text, ORDER) is expected


def test_properties_and_traits_are_read_from_their_own_objects_whatever_the_type():
    identify = {"type": "identify", "traits": {"plan": "pro"}}
    assert triggers.matches('traits.plan = "pro"', identify)
    assert not triggers.matches('properties.plan = "pro"', identify)


TRUE = 'type = "track"'
FALSE = 'type = "page"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{TRUE} and {TRUE}", True),
        (f"{TRUE} and {FALSE}", False),
        (f"{FALSE} or {TRUE}", True),
        (f"{FALSE} or {FALSE}", False),
        # "and" binds tighter than "or".
        (f"{TRUE} or {FALSE} and {FALSE}", True),
        (f"{FALSE} and {FALSE} or {TRUE}", True),
        (f"{FALSE} and {TRUE} or {FALSE}", False),
        (f"({TRUE} or {FALSE}) and {FALSE}", False),
        (f"{TRUE} or ({FALSE} and {FALSE})", True),
        (f"{FALSE} and ({FALSE} or {TRUE})", False),
        (f"{TRUE} and ({FALSE} or ({TRUE} and ({FALSE} or {TRUE})))", True),
        (f"{TRUE} and ({FALSE} or ({TRUE} and ({FALSE} or {FALSE})))", False),
        (f"{TRUE} and {TRUE} and {TRUE} and {FALSE}", False),
        (f"{FALSE} or {FALSE} or {FALSE} or {TRUE}", True),
        (f"not ({TRUE})", False),
        (f"not ({FALSE})", True),
        (f"not ({FALSE} or {TRUE})", False),
        (f"not ({FALSE}) and {TRUE}", True),
        (f"not (not ({TRUE}))", True),
        (f"{FALSE} or not ({FALSE} and {TRUE})", True),
    ],
)
def test_and_binds_tighter_than_or_and_groups_nest(text, expected):
    assert triggers.matches(text, {"type": "track"}) is expected


def test_the_segment_generated_checkout_trigger_matches_as_expected():
    text = (
        'type = "track" and event != "Page Viewed" and '
        '(properties.revenue > 0 or contains(context.page.path, "/checkout"))'
    )
    paid = {"type": "track", "event": "Order Completed", "properties": {"revenue": 5}}
    checkout = {"type": "track", "event": "Tap", "context": {"page": {"path": "/checkout"}}}
    free = {"type": "track", "event": "Tap", "properties": {"revenue": 0}}
    page_view = {"type": "track", "event": "Page Viewed", "properties": {"revenue": 5}}
    assert [triggers.matches(text, event) for event in (paid, checkout, free, page_view)] == [
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize("event", [None, [], "track", 5, ["type", "track"]])
def test_an_event_that_is_not_an_object_matches_nothing(event):
    assert triggers.matches('type != "x"', event) is False


def test_matches_accepts_a_parsed_trigger():
    trigger = triggers.parse('event = "A"')
    assert triggers.matches(trigger, {"event": "A"})
    assert not triggers.matches(trigger, {"event": "B"})


def test_matches_with_an_empty_trigger_is_false_and_does_not_raise():
    assert triggers.matches("", {"type": "track"}) is False


def test_matches_with_malformed_text_raises_the_syntax_error():
    with pytest.raises(triggers.TriggerSyntaxError):
        triggers.matches("type =", {"type": "track"})
