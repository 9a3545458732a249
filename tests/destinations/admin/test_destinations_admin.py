"""The destination admin (docs/admin.md, "Destinations and health"; docs/security.md,
"Secrets at rest"): the catalog, settings from the kind's schema, secrets that never come back,
presets on create, test connection, and bounded queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from destinations.integrations import KINDS, launchdarkly
from destinations.models import Destination
from tests.destinations.admin.factories import TOKEN, metronome, store_deliveries
from tests.destinations.delivery.sinks import always

pytestmark = pytest.mark.django_db

CATALOG = reverse("admin:destinations_destination_catalog")
ADD = reverse("admin:destinations_destination_add")
CHANGELIST = reverse("admin:destinations_destination_changelist")


def change_url(destination: Destination) -> str:
    return reverse("admin:destinations_destination_change", args=[destination.pk])


def metronome_form(source, **overrides) -> dict:
    return {
        "name": "Billing",
        "enabled": "on",
        "sources": [source.pk],
        "api_token": TOKEN,
        "base_url": "https://api.metronome.com",
        "max_concurrency": 4,
        "rate_limit": "",
        "retry_base_seconds": 10,
        "retry_cap_seconds": 600,
        "retry_window_seconds": 14400,
        "breaker_threshold": 20,
        "breaker_cooldown_seconds": 30,
        "mappings-TOTAL_FORMS": 0,
        "mappings-INITIAL_FORMS": 0,
        "transformation_links-TOTAL_FORMS": 0,
        "transformation_links-INITIAL_FORMS": 0,
    } | overrides


def test_the_catalog_lists_every_kind_with_docs_and_presets_and_links_to_its_add_form(
    admin_client,
):
    page = admin_client.get(CATALOG).content.decode()

    for kind in KINDS:
        assert f'id="kind-{kind.key}"' in page
        assert kind.name in page and kind.docs_url in page
        assert f'href="{ADD}?kind={kind.key}"' in page
        for preset in kind.presets:
            assert preset.name in page


def test_the_add_link_of_a_kind_opens_a_form_of_that_kind_settings(admin_client):
    page = admin_client.get(f"{ADD}?kind=aggregations_io").content.decode()

    assert "Add Aggregations.io destination" in page
    assert 'name="api_key"' in page and 'name="ingest_id"' in page
    assert 'name="api_token"' not in page  # Metronome's
    assert 'name="kind"' not in page  # the kind is the catalog's choice, not a field


@pytest.mark.parametrize("query", ["", "?kind=", "?kind=nonsense"])
def test_adding_a_destination_without_a_known_kind_goes_to_the_catalog(admin_client, query):
    response = admin_client.get(ADD + query)

    assert response.status_code == 302
    assert response.url == CATALOG


def test_the_changelist_add_button_leads_to_the_catalog(admin_client):
    admin_client.get(CHANGELIST)

    assert admin_client.get(ADD, follow=True).redirect_chain[-1][0] == CATALOG


def test_adding_a_metronome_destination_stores_the_token_encrypted_and_adds_its_preset(
    admin_client, source
):
    response = admin_client.post(f"{ADD}?kind=metronome", metronome_form(source), follow=True)

    destination = Destination.objects.get()
    assert response.redirect_chain, response.context["adminform"].form.errors
    assert destination.kind == "metronome"
    assert destination.secrets["api_token"] == TOKEN
    assert TOKEN not in destination.encrypted_secrets and TOKEN not in str(destination.settings)
    assert list(destination.sources.all()) == [source]
    [mapping] = destination.mappings.all()
    assert (mapping.name, mapping.action, mapping.trigger) == (
        "Send track events",
        "send_event",
        'type = "track"',
    )
    assert "Added the preset mapping “Send track events”" in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_secrets FROM destinations_destination")
        assert TOKEN not in cursor.fetchone()[0]


def test_a_refused_add_form_does_not_echo_the_typed_token(admin_client, source):
    response = admin_client.post(f"{ADD}?kind=metronome", metronome_form(source, name=""))

    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert TOKEN not in response.content.decode()


def test_a_missing_required_secret_is_refused_and_nothing_is_saved(admin_client, source):
    response = admin_client.post(f"{ADD}?kind=metronome", metronome_form(source, api_token=""))

    assert response.status_code == 200
    assert "api_token" in response.context["adminform"].form.errors
    assert not Destination.objects.exists()


def test_the_change_page_masks_the_stored_token_and_an_empty_field_keeps_it(admin_client, billing):
    page = admin_client.get(change_url(billing)).content.decode()
    assert TOKEN not in page
    assert 'placeholder="••••"' in page

    form = metronome_form(billing.sources.get(), api_token="", max_concurrency=2, rate_limit=5)
    form["base_url"] = billing.settings["base_url"]  # another host would clear the token
    form |= {"mappings-TOTAL_FORMS": 1, "mappings-INITIAL_FORMS": 1}
    form |= {"mappings-0-id": billing.mappings.get().pk, "mappings-0-destination": billing.pk}
    response = admin_client.post(change_url(billing), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    billing.refresh_from_db()
    assert billing.secrets["api_token"] == TOKEN
    assert (billing.max_concurrency, billing.rate_limit) == (2, 5.0)
    assert not billing.mappings.get().enabled  # the inline's box was left unticked


def test_the_delivery_tuning_and_advanced_settings_are_collapsed_fieldsets(admin_client, billing):
    page = admin_client.get(change_url(billing)).content.decode()

    assert 'name="breaker_threshold"' in page and 'name="base_url"' in page
    assert page.count('class="collapse"') >= 2 or page.count("collapse") >= 2


def test_test_connection_reports_an_accepted_token_without_showing_it(admin_client, billing, sink):
    sink.answer = always(400)  # Metronome's answer to an empty batch with a valid token

    response = admin_client.post(
        reverse("admin:destinations_destination_test_connection", args=[billing.pk]), follow=True
    )

    page = response.content.decode()
    assert "Test connection: HTTP 400: credentials accepted" in page
    assert sink.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in page


def test_test_connection_reports_a_refused_token(admin_client, billing, sink):
    sink.answer = lambda request: (403, {}, f'{{"error": "bad token {TOKEN}"}}'.encode())

    response = admin_client.post(
        reverse("admin:destinations_destination_test_connection", args=[billing.pk]), follow=True
    )

    page = response.content.decode()
    assert "credentials refused" in page
    assert TOKEN not in page


def test_test_connection_needs_a_post(admin_client, billing):
    url = reverse("admin:destinations_destination_test_connection", args=[billing.pk])

    assert admin_client.get(url).status_code == 405


def test_the_disable_action_turns_destinations_off(admin_client, billing):
    admin_client.post(CHANGELIST, {"action": "disable", "_selected_action": [billing.pk]})

    billing.refresh_from_db()
    assert not billing.enabled


def test_no_destination_page_shows_a_secret(admin_client, billing, sink):
    mapping = billing.mappings.get()
    store_deliveries(mapping, "failed", 2)
    urls = [
        CHANGELIST,
        CATALOG,
        f"{ADD}?kind=metronome",
        change_url(billing),
        reverse("admin:destinations_destination_history", args=[billing.pk]),
    ]

    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert TOKEN not in response.content.decode(), url


def test_destination_pages_run_a_bounded_number_of_queries(
    admin_client, billing, source, django_assert_max_num_queries
):
    for number in range(30):
        metronome(source, "https://api.metronome.com", name=f"Billing {number}")
    store_deliveries(billing.mappings.get(), "delivered", 40, latency=timedelta(seconds=1))

    with django_assert_max_num_queries(7):
        assert admin_client.get(CHANGELIST).status_code == 200
    # With its transformations: their inline (rows, choices) and their versions on health.
    with django_assert_max_num_queries(15):
        assert admin_client.get(change_url(billing)).status_code == 200


def test_a_private_base_url_is_refused_by_the_form_when_the_guard_is_on(
    admin_client, source, settings
):
    settings.ALLOW_PRIVATE_DESTINATIONS = False
    form = metronome_form(source, base_url="http://169.254.169.254/latest")

    response = admin_client.post(f"{ADD}?kind=metronome", form)

    assert response.status_code == 200
    assert "169.254.169.254 is not a public address" in response.content.decode()
    assert not Destination.objects.exists()


def launchdarkly_form(source, **overrides) -> dict:
    settings = {
        "client_id": "5f0c1d2e3a4b5c6d7e8f9a0b",
        "events_host": "events.eu.launchdarkly.com",
    }
    form = metronome_form(source, name="Flags", base_url="") | settings | overrides
    del form["api_token"]
    return form


def saved_events_url() -> str:
    return launchdarkly.events_url(Destination.objects.get().config())


def test_the_base_url_is_offered_as_a_placeholder_rather_than_filled_in(admin_client):
    page = admin_client.get(f"{ADD}?kind=launchdarkly").content.decode()

    assert 'placeholder="https://events.launchdarkly.com"' in page
    assert 'value="https://events.launchdarkly.com"' not in page


@pytest.mark.parametrize("base_url", ["", "https://events.launchdarkly.com"])
def test_a_launchdarkly_destination_on_the_eu_events_host_sends_to_the_eu_host(
    admin_client, source, base_url
):
    """The US default in Base URL, as forms used to fill it in, is not a choice of host."""
    form = launchdarkly_form(source, base_url=base_url)

    response = admin_client.post(f"{ADD}?kind=launchdarkly", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert "base_url" not in Destination.objects.get().settings
    assert saved_events_url() == (
        "https://events.eu.launchdarkly.com/events/bulk/5f0c1d2e3a4b5c6d7e8f9a0b"
    )


def test_a_base_url_typed_on_purpose_still_wins_over_the_events_host(admin_client, source):
    form = launchdarkly_form(source, base_url="https://relay.example.com")

    response = admin_client.post(f"{ADD}?kind=launchdarkly", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert saved_events_url() == "https://relay.example.com/events/bulk/5f0c1d2e3a4b5c6d7e8f9a0b"
