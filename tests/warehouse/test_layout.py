"""Segment's layout, in a real warehouse: each call type in its table with Segment's columns,
a table per track event, `users` with the latest traits."""

from datetime import UTC, datetime

from tests.destinations.events import identify, page, screen, track

BOOKKEEPING = {
    "id",
    "received_at",
    "sent_at",
    "timestamp",
    "original_timestamp",
    "uuid_ts",
    "anonymous_id",
    "user_id",
}


def group_call(**overrides):
    return {
        "type": "group",
        "groupId": "acme",
        "userId": "user-1",
        "messageId": "grp-1",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "receivedAt": "2026-03-01T12:00:01.000Z",
        "traits": {"employeeCount": 12, "name": "Acme"},
    } | overrides


def alias_call(**overrides):
    return {
        "type": "alias",
        "previousId": "anon-1",
        "userId": "user-1",
        "messageId": "als-1",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "receivedAt": "2026-03-01T12:00:01.000Z",
    } | overrides


def test_a_track_lands_in_tracks_and_in_its_events_table_with_segments_columns(warehouse):
    warehouse.load([track(event="Order Completed", sentAt="2026-03-01T12:00:00.100Z")])

    tracks = warehouse.columns("tracks")
    assert BOOKKEEPING | {"event", "event_text", "context_ip", "context_library_name"} <= set(
        tracks
    )
    assert "endpoint" not in tracks  # properties go to the event's table only
    [row] = warehouse.rows("order_completed")
    assert row["event"] == "order_completed"
    assert row["event_text"] == "Order Completed"
    assert row["id"] == "msg-0001"
    assert row["endpoint"] == "/v1/search"
    assert row["value"] == 3
    assert row["revenue"] == 12.5
    assert row["context_library_version"] == "2.4.0"
    assert row["received_at"] == datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert row["sent_at"] == datetime(2026, 3, 1, 12, 0, 0, 100000, tzinfo=UTC)
    assert row["uuid_ts"] is not None


def test_each_call_type_lands_in_its_own_table(warehouse):
    warehouse.load([identify(), page(), screen(), group_call(), alias_call()])

    assert warehouse.tables() == {
        "identifies",
        "users",
        "pages",
        "screens",
        "groups",
        "aliases",
        "discards",
    }
    assert warehouse.rows("identifies")[0]["email"] == "ada@example.com"
    assert warehouse.rows("pages")[0]["path"] == "/pricing"
    assert warehouse.rows("pages")[0]["name"] == "Pricing"
    assert warehouse.rows("screens")[0]["orientation"] == "portrait"
    assert warehouse.rows("groups")[0]["group_id"] == "acme"
    assert warehouse.rows("groups")[0]["employee_count"] == 12
    assert warehouse.rows("aliases")[0]["previous_id"] == "anon-1"


def test_nested_objects_are_flattened_with_underscores_and_arrays_kept_as_json(warehouse):
    properties = {"product": {"sku": "G-32", "price": {"amount": 9}}, "tags": ["a", "b"]}
    warehouse.load([track(properties=properties)])

    [row] = warehouse.rows("api_call")
    assert row["product_sku"] == "G-32"
    assert row["product_price_amount"] == 9
    assert row["tags"] == ["a", "b"]
    assert warehouse.columns("api_call")["tags"] == "jsonb"


def test_users_holds_the_latest_traits_of_each_user_upserted_on_the_user_id(warehouse):
    first = identify(
        messageId="i1",
        receivedAt="2026-03-01T12:00:00.000Z",
        traits={"email": "old@example.com", "plan": "free"},
    )
    later = identify(
        messageId="i2", receivedAt="2026-03-02T12:00:00.000Z", traits={"email": "new@example.com"}
    )
    warehouse.load([later])
    warehouse.load([first])  # arrives late: fills the plan, overwrites nothing newer

    [user] = warehouse.rows("users")
    assert user["id"] == "user-1"
    assert user["email"] == "new@example.com"
    assert user["plan"] == "free"
    assert "anonymous_id" not in user
    assert len(warehouse.rows("identifies")) == 2


def test_several_identifies_of_one_user_in_a_batch_make_one_user_row(warehouse):
    events = [
        identify(messageId=f"i{n}", receivedAt=f"2026-03-0{n}T00:00:00.000Z", traits={"n": n})
        for n in (3, 1, 2)
    ]
    warehouse.load(events)

    assert [(u["id"], u["n"]) for u in warehouse.rows("users")] == [("user-1", 3)]


def test_a_thousand_events_of_fifty_names_make_fifty_event_tables(warehouse):
    events = [track(n, messageId=f"m{n}", event=f"Event {n % 50}") for n in range(1000)]

    report = warehouse.load(events)

    event_tables = warehouse.tables() - {"tracks", "discards"}
    assert len(event_tables) == 50
    assert len(warehouse.rows("tracks")) == 1000
    assert len(warehouse.rows("event_7")) == 20
    assert report.rows == 2000


def test_selective_sync_gives_tables_only_to_the_events_listed_and_tracks_gets_them_all(
    warehouse,
):
    events = [track(1, event="Signed Up"), track(2, event="Logged In", messageId="m2")]

    warehouse.load(events, event_tables=frozenset({"signed_up"}))

    assert warehouse.tables() == {"tracks", "signed_up", "discards"}
    assert len(warehouse.rows("tracks")) == 2


def test_schemas_are_kept_apart(warehouse):
    warehouse.load([track()], schema="web")
    warehouse.load([track()], schema="ios")

    assert warehouse.tables("web") == warehouse.tables("ios") == {"tracks", "api_call", "discards"}
