"""What a connector is: how the sync reads a database without knowing which one it is."""

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from infra.encryption import MASK


class ReadFailed(Exception):
    """Reading failed; `kind` says how, for the run history and its filter (ShapeError and
    OutOfTime have one too)."""

    UNREACHABLE = "unreachable"
    REFUSED = "refused"  # a rule forbids connecting there: nothing was tried
    QUERY = "query"
    READ_ONLY = "read_only"
    TIMEOUT = "timeout"

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Select:
    """What to read: a table (maybe schema-qualified) or a query, and its time limit."""

    table: str
    query: str
    timeout_seconds: int


@dataclass
class Result:
    """An open result: its column names, then its rows, `chunk_rows` at a time."""

    columns: list[str]
    chunks: Iterator[list[tuple[Any, ...]]]


class Connector(Protocol):
    def vet(self, url: str) -> None:
        """Refuse (ReadFailed) a URL that may not be connected to, without connecting; a host
        that does not resolve (yet) is judged when connecting."""

    def check(self, url: str) -> str:
        """Connect and say what answered (e.g. the server's version); ReadFailed if nothing."""

    def open(self, url: str, select: Select, chunk_rows: int) -> AbstractContextManager[Result]:
        """Run `select` read-only and stream its rows; closing the context closes all."""


def redact(text: str, url: str) -> str:
    """`text` without the URL or its password: a driver's error can quote either (libpq
    quotes a malformed URL back whole, or the bad percent-escape of a password)."""
    try:
        password = urlsplit(url).password
    except ValueError:  # a malformed URL, the kind a driver's error quotes
        found = re.search(r"://[^:@/]*:([^@]*)@", url)
        password = found and found.group(1)
    secrets = [url, *([password, unquote(password)] if password else [])]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
