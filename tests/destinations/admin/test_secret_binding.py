"""A stored secret is bound to the origins it was typed for: a destination (or a webhook
mapping) moved to another scheme, host or port loses its stored secrets, unless they are
typed again in the same save, whoever saves it."""

import json

import pytest
from django.urls import reverse

from destinations.models import Destination, Mapping
from destinations.services.destinations import create_destination, save_destination, save_mapping
from tests.destinations import events
from tests.destinations.admin.factories import TOKEN, metronome
from tests.destinations.admin.test_destinations_admin import metronome_form
from tests.destinations.delivery.sinks import Sink, always

pytestmark = pytest.mark.django_db

SHARED_SECRET = "whk-shared-secret-5d2e8b"
HOST_CHANGE_HELP = "Another scheme, host or port here clears the stored secrets"
URL_CHANGE_HELP = "none of the destination's mappings names yet clears the destination's stored"


@pytest.fixture
def elsewhere(sinks) -> Sink:
    """The editor's own server: another port on the same machine is another origin."""
    return sinks()


def change_url(destination: Destination) -> str:
    return reverse("admin:destinations_destination_change", args=[destination.pk])


def save_base_url(client, destination: Destination, base_url: str, api_token: str = ""):
    form = metronome_form(destination.sources.get(), base_url=base_url, api_token=api_token)
    return client.post(change_url(destination), form, follow=True)


def connection_tested(client, destination: Destination) -> str:
    url = reverse("admin:destinations_destination_test_connection", args=[destination.pk])
    return client.post(url, follow=True).content.decode()


def test_an_editor_moving_the_base_url_to_another_host_sends_the_stored_token_nowhere(
    editor, billing, sink, elsewhere
):
    page = save_base_url(editor, billing, elsewhere.url).content.decode()
    checked = connection_tested(editor, billing)

    assert (
        "The stored secrets were cleared because the destination now sends to "
        f"{elsewhere.url}; type them again." in page
    )
    billing.refresh_from_db()
    assert dict(billing.secrets) == {}
    assert "Test connection: nothing sent: type the API token first" in checked
    assert (elsewhere.received, sink.received) == ([], [])


def test_a_superuser_moving_the_base_url_clears_the_stored_token_too(
    admin_client, billing, elsewhere
):
    page = save_base_url(admin_client, billing, elsewhere.url).content.decode()

    assert "The stored secrets were cleared" in page
    billing.refresh_from_db()
    assert dict(billing.secrets) == {}


def test_a_token_typed_with_the_new_base_url_is_kept_and_goes_there(editor, billing, elsewhere):
    elsewhere.answer = always(400)  # Metronome's answer to an empty batch with a good token

    page = save_base_url(editor, billing, elsewhere.url, api_token="new-token").content.decode()
    checked = connection_tested(editor, billing)

    assert "cleared" not in page
    billing.refresh_from_db()
    assert dict(billing.secrets) == {"api_token": "new-token"}
    assert "credentials accepted" in checked
    assert elsewhere.received[0].headers["Authorization"] == "Bearer new-token"


@pytest.mark.parametrize(
    "moved",
    [
        lambda url: url.replace("http://", "https://"),  # the scheme: now over TLS
        lambda url: url.replace("127.0.0.1", "localhost"),  # the host, the port kept
    ],
    ids=["scheme", "host"],
)
def test_another_scheme_or_host_on_the_same_port_clears_the_stored_token(
    editor, billing, sink, moved
):
    save_base_url(editor, billing, moved(sink.url))

    billing.refresh_from_db()
    assert dict(billing.secrets) == {}


@pytest.mark.parametrize("path", ["/v2/proxy", "/"])
def test_another_path_on_the_same_origin_keeps_the_stored_token(editor, billing, sink, path):
    page = save_base_url(editor, billing, sink.url + path).content.decode()

    assert "cleared" not in page
    billing.refresh_from_db()
    assert billing.secrets["api_token"] == TOKEN


def test_the_host_settings_say_that_another_host_clears_the_secrets(editor, billing):
    page = editor.get(change_url(billing)).content.decode()
    segment = editor.get(reverse("admin:destinations_destination_add") + "?kind=segment")

    assert page.count(HOST_CHANGE_HELP) == 1  # the base URL's, not the token's
    assert segment.content.decode().count(HOST_CHANGE_HELP) == 2  # base URL and endpoint


# The webhook: its URLs are the mappings', its shared secret the destination's.


@pytest.fixture
def hooks(source, sink) -> Destination:
    """A webhook destination signing with a shared secret, one mapping sending to `sink`."""
    destination = create_destination(
        "webhook", "Hooks", secrets={"shared_secret": SHARED_SECRET}, sources=[source]
    )
    Mapping.objects.create(
        destination=destination,
        name="Orders",
        action="send",
        trigger='type = "track"',
        fields={"url": f"{sink.url}/orders", "method": "POST", "data": {"@path": "$."}},
    )
    return destination


def mapping_form(mapping: Mapping, url) -> dict:
    return {
        "name": mapping.name,
        "enabled": "on",
        "trigger": mapping.trigger,
        "fields": json.dumps(mapping.fields | {"url": url}),
        "batch_size": "",
        "flush_interval": 1.0,
    }


def mapping_url(mapping: Mapping) -> str:
    return reverse("admin:destinations_mapping_change", args=[mapping.pk])


def save_mapping_url(client, mapping: Mapping, url) -> str:
    return client.post(
        mapping_url(mapping), mapping_form(mapping, url), follow=True
    ).content.decode()


def send_test_event(client, mapping: Mapping) -> None:
    url = reverse("admin:destinations_mapping_test", args=[mapping.pk])
    client.post(url, {"event": json.dumps(events.track(1)), "send": "Send test event"})


def test_a_webhook_mapping_moved_to_another_host_no_longer_signs_with_the_shared_secret(
    editor, hooks, elsewhere
):
    mapping = hooks.mappings.get()

    page = save_mapping_url(editor, mapping, f"{elsewhere.url}/collect")
    send_test_event(editor, mapping)

    assert f"now sends to {elsewhere.url}; type them again." in page
    hooks.refresh_from_db()
    assert dict(hooks.secrets) == {}
    assert "X-Signature" not in elsewhere.received[0].headers


def test_a_new_webhook_mapping_to_another_host_clears_the_shared_secret(editor, hooks, elsewhere):
    add = reverse("admin:destinations_mapping_add") + f"?destination={hooks.pk}&action=send"
    form = mapping_form(hooks.mappings.get(), f"{elsewhere.url}/collect") | {"name": "Copy"}

    page = editor.post(add, form, follow=True).content.decode()

    assert f"now sends to {elsewhere.url}; type them again." in page
    hooks.refresh_from_db()
    assert dict(hooks.secrets) == {}


def test_a_webhook_mapping_moved_to_a_host_the_destination_sends_to_keeps_the_shared_secret(
    editor, hooks, sink
):
    page = save_mapping_url(editor, hooks.mappings.get(), f"{sink.url}/refunds")

    assert "cleared" not in page
    hooks.refresh_from_db()
    assert hooks.secrets["shared_secret"] == SHARED_SECRET


def test_a_webhook_mapping_whose_host_an_event_chooses_clears_the_shared_secret(editor, hooks):
    save_mapping_url(editor, hooks.mappings.get(), {"@path": "$.properties.callback"})

    hooks.refresh_from_db()
    assert dict(hooks.secrets) == {}


def test_a_webhook_mapping_page_says_that_another_host_clears_the_secrets(editor, hooks, billing):
    webhook_page = editor.get(mapping_url(hooks.mappings.get()))
    metronome_page = editor.get(mapping_url(billing.mappings.get()))

    assert URL_CHANGE_HELP in webhook_page.content.decode()
    assert URL_CHANGE_HELP not in metronome_page.content.decode()


def test_a_second_destination_on_another_host_keeps_its_own_token(editor, source, billing, sink):
    other = metronome(source, sink.url, name="Billing EU")

    save_base_url(editor, billing, "https://api.metronome.com")

    other.refresh_from_db()
    assert other.secrets["api_token"] == TOKEN


def test_a_destination_saved_from_a_page_read_before_a_mapping_moved_does_not_revive_the_secret(
    hooks, elsewhere
):
    read_by_the_page = Destination.objects.get(pk=hooks.pk)  # its secrets still there
    mapping = hooks.mappings.get()
    mapping.fields |= {"url": f"{elsewhere.url}/collect"}
    save_mapping(mapping)

    save_destination(read_by_the_page, {})

    hooks.refresh_from_db()
    assert dict(hooks.secrets) == {}
