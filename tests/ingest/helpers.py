import orjson


def padded(message: dict, size: int) -> dict:
    """`message` with a `pad` property that makes its compact JSON exactly `size` bytes."""
    base = len(orjson.dumps(message | {"pad": ""}))
    assert size >= base, f"{size} is below the {base} bytes the message needs"
    return message | {"pad": "x" * (size - base)}


def json_bytes(value) -> bytes:
    return orjson.dumps(value)


def nested(levels: int, leaf: bytes = b'"x"') -> bytes:
    """JSON of `leaf` inside `levels` arrays, written as bytes: orjson refuses to encode more
    than 254 levels, and Python's recursion limit stops building it as a value long before a
    hostile client stops writing it."""
    return b"[" * levels + leaf + b"]" * levels


def with_property(message: dict, value: bytes) -> bytes:
    """`message`'s JSON with `properties.a` set to the raw JSON `value`."""
    return orjson.dumps(message)[:-1] + b',"properties":{"a":' + value + b"}}"


def message_of_depth(message: dict, depth: int) -> bytes:
    """`message`'s JSON nested `depth` levels deep as a whole (itself, `properties`, arrays)."""
    return with_property(message, nested(depth - 2))
