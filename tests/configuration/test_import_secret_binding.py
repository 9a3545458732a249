"""Importing a destination that now sends to another origin (scheme, host, port) keeps only the
secrets the file gives: a stored one is never sent where it was not typed for."""

import json

import pytest
from django.core.management import CommandError

from destinations.models import Destination, Mapping
from destinations.services.destinations import create_destination
from tests.configuration.scenario import TOKEN, TOKEN_VARIABLE, export, import_text

SHARED_SECRET = "whk-shared-secret-5d2e8b"
SHARED_SECRET_VARIABLE = "SWITCHYARD_HOOKS_SHARED_SECRET"


def moved(base_url: str) -> str:
    """The exported document with the Metronome billing destination's base URL changed."""
    document = json.loads(export())
    document["destinations"][0]["settings"]["base_url"] = base_url
    return json.dumps(document)


def billing() -> Destination:
    return Destination.objects.get(name="Metronome billing")


def test_a_new_host_without_its_secret_in_the_file_clears_the_stored_one_and_says_so(
    configured, tmp_path
):
    output = import_text(moved("https://proxy.example.net/metronome"), tmp_path)

    assert dict(billing().secrets) == {}
    assert (
        "destination 'Metronome billing': the stored secrets were cleared because it now sends "
        f"to https://proxy.example.net; set {TOKEN_VARIABLE} and import again" in output
    )
    assert "destinations: 0 created, 1 updated, 1 unchanged" in output


def test_a_new_host_with_its_secret_in_the_file_keeps_the_secret_given(
    configured, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_VARIABLE, "proxy-token")

    output = import_text(moved("https://proxy.example.net"), tmp_path)

    assert dict(billing().secrets) == {"api_token": "proxy-token"}
    assert "cleared" not in output


@pytest.mark.parametrize(
    "base_url",
    ["https://metronome.example.com/v2", "HTTPS://Metronome.Example.com:443"],
    ids=["path", "same origin spelled otherwise"],
)
def test_another_path_on_the_same_origin_keeps_the_stored_secret(configured, tmp_path, base_url):
    output = import_text(moved(base_url), tmp_path)

    assert billing().secrets["api_token"] == TOKEN
    assert "cleared" not in output


def test_an_import_after_the_clearing_still_wants_the_variable(configured, tmp_path):
    text = moved("https://proxy.example.net")
    import_text(text, tmp_path)

    with pytest.raises(CommandError, match=f"api_token: {TOKEN_VARIABLE} is not set"):
        import_text(text, tmp_path)


@pytest.fixture
def hooks(db) -> Destination:
    destination = create_destination("webhook", "Hooks", secrets={"shared_secret": SHARED_SECRET})
    Mapping.objects.create(
        destination=destination,
        name="Orders",
        action="send",
        trigger='type = "track"',
        fields={"url": "https://hooks.example.com/orders", "method": "POST"},
    )
    return destination


def with_mapping_url(url: str, name: str) -> str:
    """The exported document with the webhook's mapping `name`, a copy of Orders, sending to
    `url` (Orders itself when `name` is Orders, a new mapping otherwise)."""
    document = json.loads(export())
    mappings = document["destinations"][0]["mappings"]
    [orders] = mappings
    mapping = orders | {"name": name, "fields": orders["fields"] | {"url": url}}
    mappings[:] = [entry for entry in mappings if entry["name"] != name] + [mapping]
    return json.dumps(document)


@pytest.mark.parametrize("name", ["Orders", "Refunds"], ids=["changed", "added"])
def test_a_webhook_mapping_to_a_new_host_clears_the_shared_secret(hooks, tmp_path, name):
    output = import_text(with_mapping_url("https://collector.example.org/x", name), tmp_path)

    hooks.refresh_from_db()
    assert dict(hooks.secrets) == {}
    assert (
        "destination 'Hooks': the stored secrets were cleared because it now sends to "
        f"https://collector.example.org; set {SHARED_SECRET_VARIABLE} and import again" in output
    )


def test_a_webhook_mapping_to_a_host_the_destination_sends_to_keeps_the_shared_secret(
    hooks, tmp_path
):
    output = import_text(with_mapping_url("https://hooks.example.com/refunds", "Refunds"), tmp_path)

    hooks.refresh_from_db()
    assert hooks.secrets["shared_secret"] == SHARED_SECRET
    assert "cleared" not in output
