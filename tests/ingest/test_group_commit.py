"""Group commit (ingest/storage.py): requests that meet share one INSERT and its commit."""

import threading
import time
from datetime import UTC, datetime

import pytest

from ingest import storage
from ingest.storage import GroupCommit, Rows


def rows(name: str) -> Rows:
    return Rows(source_id=1, received_at=datetime.now(UTC), events=[name])  # type: ignore[list-item]


class SlowInserts:
    """Stands in for the INSERT: records each call's requests, takes a while, can fail."""

    def __init__(self, seconds: float = 0.2, failing: str | None = None) -> None:
        self.seconds = seconds
        self.failing = failing
        self.calls: list[list[str]] = []

    def __call__(self, requests: list[Rows]) -> None:
        names = [name for request in requests for name in request.events]
        self.calls.append(names)
        time.sleep(self.seconds)
        if self.failing in names:
            raise RuntimeError(f"{self.failing} is a bad row")


def run_together(group: GroupCommit, names: list[str], stagger: float = 0.02) -> dict:
    """Each name inserted from its own thread, the first a little ahead of the rest."""
    outcomes: dict[str, object] = {}

    def insert(name: str) -> None:
        try:
            outcomes[name] = group.insert(rows(name))
        except RuntimeError as error:
            outcomes[name] = error

    threads = [threading.Thread(target=insert, args=(name,)) for name in names]
    threads[0].start()
    time.sleep(stagger)
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_requests_arriving_during_an_insert_share_the_next_one(monkeypatch):
    inserts = SlowInserts()
    monkeypatch.setattr(storage, "insert", inserts)

    outcomes = run_together(GroupCommit(), ["a", "b", "c", "d"])

    assert inserts.calls[0] == ["a"]
    assert sorted(inserts.calls[1]) == ["b", "c", "d"]
    assert len(inserts.calls) == 2
    # True for the request that led each INSERT (it rings the router), False for the rest.
    assert outcomes["a"] is True
    assert sorted(outcomes[name] for name in "bcd") == [False, False, True]


def test_a_request_alone_is_inserted_at_once():
    inserts = SlowInserts(seconds=0)
    group = GroupCommit()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "insert", inserts)
        assert group.insert(rows("alone")) is True

    assert inserts.calls == [["alone"]]


def test_a_failed_shared_insert_is_retried_request_by_request(monkeypatch):
    inserts = SlowInserts(failing="bad")
    monkeypatch.setattr(storage, "insert", inserts)

    outcomes = run_together(GroupCommit(), ["first", "good", "bad", "fine"])

    assert isinstance(outcomes["bad"], RuntimeError)
    assert all(outcomes[name] is True for name in ("first", "good", "fine"))
    alone = [call for call in inserts.calls if len(call) == 1]
    assert sorted(name for (name,) in alone) == ["bad", "fine", "first", "good"]
