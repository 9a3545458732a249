"""The configured installation the configuration tests export and import."""

import pytest

from destinations.models import Mapping
from destinations.services.destinations import create_destination
from ingest.models import Source
from tests.configuration.scenario import SIGNUPS_FIELDS, TOKEN, WEB_KEY


@pytest.fixture
def configured(db) -> None:
    """Two sources, a Metronome destination with every mapping field set, a second one."""
    web = Source.objects.create(name="Web", write_key=WEB_KEY)
    Source.objects.create(name="iOS app", enabled=False, rate_limit=500)
    billing = create_destination(
        "metronome",
        "Metronome billing",
        settings={"base_url": "https://metronome.example.com"},
        secrets={"api_token": TOKEN},
        sources=[web],
    )
    billing.mappings.update(batch_size=50, flush_interval=2.5, enabled=False)
    Mapping.objects.create(
        destination=billing,
        name="Signups",
        action="send_event",
        trigger='type = "track" and event = "Signed Up"',
        fields=SIGNUPS_FIELDS,
    )
    create_destination("metronome", "Metronome staging", secrets={"api_token": "t2"}, enabled=False)
