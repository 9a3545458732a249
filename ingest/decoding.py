"""Reading a Tracking API body: size caps before parsing, gzip without bombs, JSON always."""

import json
import math
import zlib
from typing import Any, BinaryIO

import orjson

from .errors import bad_request, payload_too_large

CHUNK = 64 * 1024


def read_body(stream: BinaryIO, content_length: int | None, encoding: str, limit: int) -> bytes:
    """Read at most `limit` decoded bytes; a body that would exceed it is refused unread."""
    # A compressed body larger than the decoded cap cannot decode to less than the cap.
    if content_length is not None and content_length > limit:
        raise too_large(limit)
    if encoding == "gzip":
        return gunzip_capped(stream, limit)
    if encoding not in ("", "identity"):
        raise bad_request(f"unsupported Content-Encoding '{encoding}'; send gzip or nothing")
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return body


def gunzip_capped(stream: BinaryIO, limit: int) -> bytes:
    # wbits 16+MAX_WBITS accepts exactly the gzip container; max_length stops inflating the
    # moment the output passes the cap, so a tiny bomb never costs more than `limit` bytes.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    output = bytearray()
    consumed = 0
    while chunk := stream.read(CHUNK):
        consumed += len(chunk)
        if consumed > limit:
            raise too_large(limit)
        try:
            output += inflater.decompress(chunk, limit + 1 - len(output))
        except zlib.error as error:
            raise bad_request(f"body is not valid gzip: {error}") from error
        if len(output) > limit or inflater.unconsumed_tail:
            raise too_large(limit)
    if not inflater.eof:
        raise bad_request("body is not valid gzip: the stream is truncated")
    return bytes(output)


def too_large(limit: int):
    return payload_too_large(f"the body is over the limit of {limit:,} bytes")


def parse_json(body: bytes) -> Any:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        value = parse_leniently(body, error)
    # Valid JSON can only carry U+0000 escaped, so the scan for the escape is a cheap guard.
    return strip_nul(value) if b"\\u0000" in body else value


class NotJson:
    """A value JSON cannot carry, kept where it was read: orjson cannot encode it either, so
    normalize refuses the item that holds it, and only that item."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def parse_leniently(body: bytes, error: orjson.JSONDecodeError) -> Any:
    """A body orjson refuses for one value's sake, read with Python's decoder, which keeps
    that value: a lone surrogate (JSON.stringify's text for a string cut inside an emoji; it
    stays in the string), NaN or Infinity (what Python's json.dumps writes by default) and
    numbers beyond a double (both become NotJson). Anything else is still a bad request;
    decoding the bytes here keeps Python's decoder from reading UTF-16 or a BOM as well."""
    try:
        text = body.decode("utf-8", "surrogatepass")
        return json.loads(
            text, parse_constant=NotJson, parse_float=lenient_float, parse_int=lenient_int
        )
    except (ValueError, RecursionError):
        raise bad_request(f"body is not valid JSON: {error}") from error


def lenient_float(text: str) -> float | NotJson:
    number = float(text)
    return number if math.isfinite(number) else NotJson(text)


def lenient_int(text: str) -> int | float | NotJson:
    # As orjson reads them: an int within 64 bits (signed or unsigned), else a float. Twenty
    # characters hold every such int, and int() refuses text of over 4,300 digits.
    if len(text) <= 20 and -(2**63) <= (number := int(text)) < 2**64:
        return number
    return lenient_float(text)


def strip_nul(value: Any) -> Any:
    """Remove U+0000, which PostgreSQL's jsonb and text columns refuse, from keys and strings.

    In place, container by container rather than recursively: the value may nest deeper
    than Python's recursion limit.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    pending = [value]
    while pending:
        container = pending.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                container[index] = without_nul(item, pending)
        elif isinstance(container, dict):
            items = list(container.items())
            container.clear()
            for key, item in items:
                container[key.replace("\x00", "")] = without_nul(item, pending)
    return value


def without_nul(item: Any, pending: list[Any]) -> Any:
    """`item` with U+0000 removed if it is a string; a container is left on `pending`."""
    if isinstance(item, str):
        return item.replace("\x00", "")
    if isinstance(item, dict | list):
        pending.append(item)
    return item
