"""Reading a Tracking API body: size caps before parsing, gzip without bombs, JSON always."""

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
        raise bad_request(f"body is not valid JSON: {error}") from error
    # Valid JSON can only carry U+0000 escaped, so the scan for the escape is a cheap guard.
    return strip_nul(value) if b"\\u0000" in body else value


def strip_nul(value: Any) -> Any:
    """Remove U+0000, which PostgreSQL's jsonb and text columns refuse, from keys and strings."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(key): strip_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_nul(item) for item in value]
    return value
