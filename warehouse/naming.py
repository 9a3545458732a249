"""Segment's names for schemas, tables and columns (docs/warehouse.md, "Names").

Pure functions, no Django: CamelCase and spaces become snake_case as segmentio/go-snakecase
writes it ("Order Completed" -> order_completed, "accountType" -> account_type), then
PostgreSQL's limits apply: 63 bytes at most, no leading digit, no reserved word (each gets a
leading underscore, so that SQL written without quotes runs), nothing that names one of the
tables Switchyard writes itself.
"""

import re
import unicodedata

MAX_BYTES = 63  # PostgreSQL's NAMEDATALEN less its terminator
# A lower case letter or digit followed by an upper case one, and the last capital of a run
# of them followed by a lower case one ("HTTPServer" -> HTTP_Server).
CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
NOT_WORD = re.compile(r"[^\w]+|_+")
# PostgreSQL's reserved key words (appendix C, "reserved" and "reserved (can be function or
# type)"): a column named so must always be quoted.
RESERVED_WORDS = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user
    default deferrable desc distinct do else end except false fetch for foreign freeze from
    full grant group having ilike in initially inner intersect into is isnull join lateral
    leading left like limit localtime localtimestamp natural not notnull null offset on only
    or order outer overlaps placing primary references returning right select session_user
    similar some symmetric system_user table tablesample then to trailing true union unique
    user using variadic verbose when where window with""".split()  # noqa: SIM905
)
# The tables every schema has; an event named like one gets a table of its own beside it.
CALL_TABLES = ("tracks", "identifies", "users", "pages", "screens", "groups", "aliases")
OWN_TABLES = frozenset({*CALL_TABLES, "discards"})


def snake_case(text: str) -> str:
    """go-snakecase's reading of `text`: words split at spaces, punctuation and case changes,
    joined by one underscore, lower case. Letters beyond ASCII stay (quoted identifiers hold
    them); accents are taken off those that have an ASCII base."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    words = NOT_WORD.split(CAMEL_BOUNDARY.sub("_", text))
    return "_".join(word.lower() for word in words if word)


def identifier(text: str) -> str:
    """A column or schema name for `text`; empty when nothing of it can name anything."""
    name = truncated(snake_case(text))
    if not name:
        return ""
    if name[0].isdigit() or name in RESERVED_WORDS:
        name = truncated(f"_{name}")
    return name


def table_name(event: str) -> str:
    """The table of a track event: its name as an identifier, moved aside with a leading
    underscore when it would be one of the tables every schema has."""
    name = identifier(event)
    if name in OWN_TABLES:
        name = f"_{name}"
    return name


def schema_name(source: str) -> str:
    return identifier(source)


def truncated(name: str) -> str:
    """At most MAX_BYTES of UTF-8, cut between characters, with no underscore left at the end
    (or none at all if the cut leaves only underscores)."""
    encoded = name.encode()
    if len(encoded) <= MAX_BYTES:
        return name
    cut = encoded[:MAX_BYTES].decode(errors="ignore")
    return cut.rstrip("_")


def flatten_key(prefix: str, key: str) -> str:
    """A nested key's column: the path joined by underscores (context.page.path ->
    context_page_path), each part snake_cased before joining."""
    part = snake_case(key)
    return f"{prefix}_{part}" if prefix and part else prefix or part
