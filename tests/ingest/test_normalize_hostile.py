"""What normalize and the decoder do with hostile values, as pure functions: nesting past
MAX_NESTING_DEPTH is `too_deep`, a value orjson cannot encode is `unencodable`, and neither
raises however deep the value goes (an iterative walk, not a recursive one)."""

from datetime import UTC, datetime

import pytest

from ingest.decoding import NotJson, parse_json
from ingest.errors import IngestError
from ingest.normalize import MAX_NESTING_DEPTH, RequestContext, normalize

TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXTS = {
    "batch": RequestContext(RECEIVED_AT, None, 32 * 1024, measure_size=True),
    "single": RequestContext(RECEIVED_AT, None, 32 * 1024, forced_type="track"),
}
each_context = pytest.mark.parametrize("ctx", CONTEXTS.values(), ids=CONTEXTS.keys())


def nest(value, levels: int, container=list):
    """`value` inside `levels` arrays (or objects), built without recursion."""
    for _ in range(levels):
        value = [value] if container is list else {"a": value}
    return value


def codes(items: list, ctx: RequestContext) -> list[str]:
    accepted, rejected = normalize(items, ctx)
    return ["accepted"] * len(accepted) + [rejection.code for rejection in rejected]


@each_context
@pytest.mark.parametrize("container", [list, dict], ids=["arrays", "objects"])
def test_a_message_may_nest_64_levels_counting_itself_and_no_more(ctx, container):
    # The message and its properties are two levels.
    at_limit = TRACK | {"properties": {"a": nest(1, MAX_NESTING_DEPTH - 2, container)}}
    past_limit = TRACK | {"properties": {"a": nest(1, MAX_NESTING_DEPTH - 1, container)}}

    assert codes([at_limit], ctx) == ["accepted"]
    assert codes([past_limit], ctx) == ["too_deep"]


@each_context
def test_an_item_100_000_levels_deep_is_rejected_as_too_deep_without_raising(ctx):
    accepted, rejected = normalize([TRACK | {"properties": {"a": nest(1, 100_000)}}], ctx)

    assert accepted == []
    assert rejected[0].code == "too_deep"
    assert "'event': 'Signed Up'" in rejected[0].example


@each_context
def test_a_non_object_item_100_000_levels_deep_is_rejected_with_a_short_example(ctx):
    accepted, rejected = normalize([nest(1, 100_000)], ctx)

    assert accepted == []
    assert [rejection.code for rejection in rejected] == ["invalid_message"]
    assert rejected[0].example.startswith("[[[[")
    assert len(rejected[0].example) < 100


def test_many_shallow_containers_and_brackets_in_text_are_not_depth():
    products = [{"sku": f"sku-{n}", "tags": ["a", "b"]} for n in range(100)]
    brackets = "[{" * 100

    message = TRACK | {"properties": {"products": products, "query": brackets}}

    assert codes([message], CONTEXTS["batch"]) == ["accepted"]


UNENCODABLE = [2**64, -(2**63) - 1, "half an emoji \ud83d", NotJson("NaN"), object()]


@each_context
@pytest.mark.parametrize(
    "value", UNENCODABLE, ids=["2**64", "-(2**63)-1", "half an emoji", "NaN", "an object"]
)
def test_a_value_orjson_cannot_encode_rejects_its_item_alone(ctx, value):
    items = [TRACK, TRACK | {"properties": {"a": [value]}}]

    assert codes(items, ctx) == ["accepted", "unencodable"]


def test_nul_is_removed_from_strings_and_keys_inside_arrays_inside_objects():
    body = b'{"a\\u0000": [{"k\\u0000": ["x\\u0000y", 1]}], "b": "\\u0000"}'

    assert parse_json(body) == {"a": [{"k": ["xy", 1]}], "b": ""}


def test_a_body_orjson_refuses_for_one_value_keeps_that_value_in_its_place():
    body = b'{"a": NaN, "b": [1e400, -Infinity], "c": "\\ud83d", "d": 18446744073709551616}'

    value = parse_json(body)

    assert [type(v) for v in (value["a"], *value["b"])] == [NotJson] * 3
    assert value["c"] == "\ud83d"
    assert value["d"] == 2**64
    assert type(value["d"]) is float  # as orjson reads an integer past 64 bits


NEITHER_DECODER_READS = [
    b'{"a": nan}',
    b'{"a": 1',
    b'{"a": "\\ud83d',
    b"\xff",
    '{"a": 1}'.encode("utf-16"),
    b"\xef\xbb\xbf{}",
    b"[" * 2000 + b"NaN" + b"]" * 2000,
    b"[" * 100_000,
]


@pytest.mark.parametrize("body", NEITHER_DECODER_READS, ids=lambda body: repr(body[:12]))
def test_a_body_neither_decoder_reads_is_a_bad_request(body):
    with pytest.raises(IngestError) as raised:
        parse_json(body)

    assert raised.value.code == "bad_request"
