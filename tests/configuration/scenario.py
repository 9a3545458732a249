"""What the configuration-as-code tests share: a configured installation, export and import
through the management commands, snapshots to compare."""

import io
from typing import Any

from django.core.management import call_command
from django.test.utils import CaptureQueriesContext

from destinations.models import Destination, Mapping
from ingest.models import Source

TOKEN = "mtr-secret-token-1234"
TOKEN_VARIABLE = "SWITCHYARD_METRONOME_BILLING_API_TOKEN"
WEB_KEY = "web-write-key-" + "w" * 30
WEB_KEY_VARIABLE = "SWITCHYARD_SOURCE_WEB_WRITE_KEY"
IOS_KEY_VARIABLE = "SWITCHYARD_SOURCE_IOS_APP_WRITE_KEY"
MAPPING_FIELDS = ("name", "action", "trigger", "fields", "enabled", "batch_size", "flush_interval")
SIGNUPS_FIELDS = {
    "transaction_id": {"@path": "$.messageId"},
    "customer_id": {"@path": "$.userId"},
    "timestamp": {"@path": "$.timestamp"},
    "event_type": "signup",
    "properties": {"plan": {"@path": "$.properties.plan"}},
}


def export(*options: str) -> str:
    out = io.StringIO()
    call_command("export_config", *options, stdout=out)
    return out.getvalue()


def import_text(text: str, tmp_path, *options: str) -> str:
    path = tmp_path / "switchyard.json"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_config", str(path), *options, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    """Everything the configuration describes, as comparable values."""
    mappings = Mapping.objects.order_by("destination__name", "name")
    return {
        "sources": list(
            Source.objects.order_by("name").values("name", "enabled", "rate_limit", "write_key")
        ),
        "destinations": [
            {
                "name": d.name,
                "kind": d.kind,
                "settings": d.settings,
                "secrets": dict(d.secrets),
                "enabled": d.enabled,
                "sources": sorted(d.sources.values_list("name", flat=True)),
            }
            for d in Destination.objects.order_by("name")
        ],
        "mappings": list(mappings.values("destination__name", *MAPPING_FIELDS)),
    }


def empty_the_database() -> None:
    Destination.objects.all().delete()
    Source.objects.all().delete()


def set_exported_variables(monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv("SWITCHYARD_METRONOME_STAGING_API_TOKEN", "t2")
    monkeypatch.setenv(WEB_KEY_VARIABLE, WEB_KEY)
    monkeypatch.setenv(IOS_KEY_VARIABLE, Source.objects.get(name="iOS app").write_key)


def writes(queries: CaptureQueriesContext) -> list[str]:
    verbs = ("INSERT", "UPDATE", "DELETE")
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(verbs)]


def row_versions() -> dict[str, list[tuple]]:
    """What any write would change: each `updated` stamp, each secrets token."""
    return {
        "mappings": list(Mapping.objects.order_by("pk").values_list("pk", "updated")),
        "destinations": list(
            Destination.objects.order_by("pk").values_list("pk", "updated", "encrypted_secrets")
        ),
    }


def metronome_document() -> dict[str, Any]:
    """A hand-written document: a Web source and a Metronome destination fed by it."""
    usage = {"name": "Usage", "action": "send_event", "trigger": 'type = "track"'}
    billing = {
        "name": "Metronome billing",
        "kind": "metronome",
        "sources": ["Web"],
        "secrets": {"api_token": {"env": TOKEN_VARIABLE}},
        "mappings": [usage | {"fields": SIGNUPS_FIELDS}],
    }
    return {"version": 1, "sources": [{"name": "Web"}], "destinations": [billing]}
