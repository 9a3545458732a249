"""Writing a request's events in one statement, whatever their number (SPEC §2.7).

Django's bulk_create would do on PostgreSQL, but it binds one parameter per column per row,
which SQLite caps at 999 (so it splits the statement) and which costs PostgreSQL a long
parse. Arrays on PostgreSQL and one JSON document on SQLite keep it a single statement with
a handful of parameters; ON CONFLICT DO NOTHING is the messageId dedup.
"""

from datetime import datetime

import orjson
from django.db import connection

from .models import Event
from .normalize import Accepted

TABLE = Event._meta.db_table
COLUMNS = (
    "source_id, received_at, message_id, type, name, user_id, anonymous_id, timestamp, payload"
)

POSTGRES_INSERT = f"""\
INSERT INTO {TABLE} ({COLUMNS})
SELECT %s, %s, * FROM unnest(
    %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
    %s::timestamptz[], %s::jsonb[]
)
ON CONFLICT (source_id, message_id) DO NOTHING
"""
SQLITE_INSERT = f"""\
INSERT OR IGNORE INTO {TABLE} ({COLUMNS})
SELECT %s, %s, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
    json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
    json_extract(value, '$[5]'), json(json_extract(value, '$[6]'))
FROM json_each(%s)
"""


def insert_events(source_id: int, events: list[Accepted], received_at: datetime) -> None:
    adapt_time = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = [
                [event.message_id for event in events],
                [event.type for event in events],
                [event.name for event in events],
                [event.user_id for event in events],
                [event.anonymous_id for event in events],
                [event.timestamp for event in events],
                [orjson.dumps(event.message).decode() for event in events],
            ]
            cursor.execute(POSTGRES_INSERT, [source_id, received_at, *columns])
        else:
            rows = [
                [
                    event.message_id,
                    event.type,
                    event.name,
                    event.user_id,
                    event.anonymous_id,
                    adapt_time(event.timestamp),
                    event.message,
                ]
                for event in events
            ]
            cursor.execute(
                SQLITE_INSERT, [source_id, adapt_time(received_at), orjson.dumps(rows).decode()]
            )
