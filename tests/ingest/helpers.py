import orjson


def padded(message: dict, size: int) -> dict:
    """`message` with a `pad` property that makes its compact JSON exactly `size` bytes."""
    base = len(orjson.dumps(message | {"pad": ""}))
    assert size >= base, f"{size} is below the {base} bytes the message needs"
    return message | {"pad": "x" * (size - base)}


def json_bytes(value) -> bytes:
    return orjson.dumps(value)
