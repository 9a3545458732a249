"""Config as code covers "Keep order per user" (docs/delivery.md, "Per-user order"): a file that
leaves it out gets the kind's default, one that says it is followed, and an export writes it."""

import json

import pytest

from destinations.models import Destination
from tests.configuration.scenario import export, import_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def write_key(monkeypatch):
    monkeypatch.setenv("SEGMENT_WRITE_KEY", "a-write-key")


def document(kind: str, **options) -> dict:
    destination = {"name": "Users", "kind": kind, "mappings": [], **options}
    if kind == "segment":
        destination |= {"secrets": {"write_key": {"env": "SEGMENT_WRITE_KEY"}}}
    return {"version": 1, "destinations": [destination]}


@pytest.mark.parametrize(("kind", "default"), [("segment", True), ("webhook", False)])
def test_a_destination_without_the_setting_keeps_order_as_its_kind_does(tmp_path, kind, default):
    import_text(json.dumps(document(kind)), tmp_path)
    assert Destination.objects.get(name="Users").keep_order is default


def test_the_file_decides_when_it_says(tmp_path):
    import_text(json.dumps(document("segment", keep_order=False)), tmp_path)
    assert Destination.objects.get(name="Users").keep_order is False


def test_an_export_writes_the_setting_and_imports_back_unchanged(tmp_path):
    import_text(json.dumps(document("webhook", keep_order=True)), tmp_path)
    [exported] = json.loads(export())["destinations"]
    assert exported["keep_order"] is True
    assert "unchanged" in import_text(export(), tmp_path)
