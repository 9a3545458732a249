"""Rotating the key that encrypts destination secrets (docs/operations.md,
"Rotating the secrets key")."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from destinations.models import Destination
from destinations.services.destinations import create_destination


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def destinations(db):
    return [
        create_destination("metronome", "Billing", secrets={"api_token": "mtr-token"}),
        create_destination(
            "librato", "Metrics", {"email": "ops@example.com"}, {"token": "lib-token"}
        ),
        create_destination("webhook", "Hooks"),  # no secret at all
    ]


def test_rotation_keeps_every_destination_working_once_the_old_key_is_gone(destinations, settings):
    old = settings.SECRETS_KEYS[0]
    settings.SECRETS_KEYS = [new := new_key(), old]

    call_command("rotate_secrets")
    settings.SECRETS_KEYS = [new]

    by_name = {d.name: d for d in Destination.objects.all()}
    assert by_name["Billing"].config()["api_token"] == "mtr-token"
    assert by_name["Metrics"].config()["token"] == "lib-token"
    assert dict(by_name["Hooks"].secrets) == {}


def test_rotation_writes_tokens_under_the_new_key(destinations, settings):
    before = Destination.objects.get(name="Billing").encrypted_secrets
    settings.SECRETS_KEYS = [new := new_key(), settings.SECRETS_KEYS[0]]

    call_command("rotate_secrets")

    after = Destination.objects.get(name="Billing").encrypted_secrets
    assert after != before
    assert Fernet(new).decrypt(after)


def test_rotation_without_the_old_key_changes_nothing_and_says_why(destinations, settings):
    before = list(Destination.objects.values_list("encrypted_secrets", flat=True))
    settings.SECRETS_KEYS = [new_key()]

    with pytest.raises(CommandError, match=r"SECRETS_KEYS does not hold.*nothing was changed"):
        call_command("rotate_secrets")

    assert list(Destination.objects.values_list("encrypted_secrets", flat=True)) == before
